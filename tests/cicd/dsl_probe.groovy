// Evaluates a Job DSL script or a declarative Jenkinsfile with real Groovy and prints the calls it makes as JSON.
// Every method call (folder, pipelineJob, stage, sh, withCredentials, ...) is recorded with its arguments and
// nested closures are evaluated, so tests see what the script really does (loops, conditions and all), and a
// misspelt step shows up as an unknown call instead of passing a plain syntax check.
import groovy.json.JsonOutput
import org.codehaus.groovy.control.CompilerConfiguration

class Call {
    // Rehearsal context (--context): real `params` and `env` maps and the values some steps return, so GStrings,
    // conditions and `when { expression }` evaluate as they would in a build with those parameters.
    static Map context = null
    String name
    List args = []
    List<Call> children = []
    Object result = null

    def methodMissing(String method, Object rawArgs) {
        Call call = new Call(name: method)
        children << call
        (rawArgs as Object[]).each { arg ->
            if (arg instanceof Closure) {
                Closure body = (Closure) arg.clone()
                body.delegate = call
                body.resolveStrategy = Closure.DELEGATE_FIRST
                Object value = body.call()
                if (value instanceof Boolean || value instanceof CharSequence) { call.result = value.toString() }
            } else {
                call.args << plain(arg)
            }
        }
        if (context != null) {
            // readFile's content exists only when the build runs: a placeholder the rehearsal resolves then.
            if (method == 'readFile') { return "@readFile:${call.args[0]}@".toString() }
            if (context.returns?.containsKey(method)) { return context.returns[method] }
        }
        // What a step returns is a detached value: calls on it (e.g. sh(...).trim()) are not steps.
        return new Call(name: "result of ${method}")
    }

    // env.X, params.X, scm, currentBuild ...: detached values, never steps (real maps under --context).
    def propertyMissing(String property) {
        if (context != null && property in ['params', 'env']) { return context[property] }
        new Call(name: property)
    }

    // environment { X = '...' } assigns; record it as an `=X` call so tests can see the variable.
    def propertyMissing(String property, Object value) { children << new Call(name: "=${property}", args: [plain(value)]) }

    String toString() { name }

    private static Object plain(Object value) {
        if (value instanceof GString || value instanceof Call) { return value.toString() }
        if (value instanceof Collection) { return value.collect { plain(it) } }
        if (value instanceof Map) { return value.collectEntries { k, v -> [(k.toString()): plain(v)] } }
        return value
    }

    Map toMap() { [name: name, args: args, children: children*.toMap(), result: result] }
}

// `dsl_probe.groovy FILE`: its call tree. `dsl_probe.groovy --many FILE...` (one JVM for many probes):
// {"<path>": <call tree>, ...}. `dsl_probe.groovy --context CTX.json FILE`: evaluated with CTX's params/env/returns;
// prints {"tree": <call tree>, "env": <env after the run>}.
Map probeFile(String path) {
    CompilerConfiguration config = new CompilerConfiguration()
    config.scriptBaseClass = DelegatingScript.name
    GroovyShell shell = new GroovyShell(new Binding(), config)
    // Parse under a fixed class name: file names like runner-job.Jenkinsfile are not valid class names.
    DelegatingScript script = (DelegatingScript) shell.parse(new File(path).text, 'ProbedScript')
    Call root = new Call(name: 'script')
    script.setDelegate(root)
    script.run()
    return root.toMap()
}

if (args[0] == '--context') {
    Call.context = new groovy.json.JsonSlurper().parse(new File(args[1])) as Map
    Map tree = probeFile(args[2])
    println JsonOutput.toJson([tree: tree, env: Call.context.env])
} else if (args[0] == '--many') {
    println JsonOutput.toJson(args.drop(1).collectEntries { [(it): probeFile(it)] })
} else {
    println JsonOutput.toJson(probeFile(args[0]))
}
