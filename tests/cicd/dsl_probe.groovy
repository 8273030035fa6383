// Evaluates a Job DSL script or a declarative Jenkinsfile with real Groovy and prints the calls it makes as JSON.
// Every method call (folder, pipelineJob, stage, sh, withCredentials, ...) is recorded with its arguments and
// nested closures are evaluated, so tests see what the script really does (loops, conditions and all), and a
// misspelt step shows up as an unknown call instead of passing a plain syntax check.
import groovy.json.JsonOutput
import org.codehaus.groovy.control.CompilerConfiguration

class Call {
    String name
    List args = []
    List<Call> children = []

    def methodMissing(String method, Object rawArgs) {
        Call call = new Call(name: method)
        children << call
        (rawArgs as Object[]).each { arg ->
            if (arg instanceof Closure) {
                Closure body = (Closure) arg.clone()
                body.delegate = call
                body.resolveStrategy = Closure.DELEGATE_FIRST
                body.call()
            } else {
                call.args << plain(arg)
            }
        }
        // What a step returns is a detached value: calls on it (e.g. sh(...).trim()) are not steps.
        return new Call(name: "result of ${method}")
    }

    // env.X, params.X, scm, currentBuild ...: detached values, never steps.
    def propertyMissing(String property) { new Call(name: property) }

    // environment { X = '...' } assigns; record it as an `=X` call so tests can see the variable.
    def propertyMissing(String property, Object value) { children << new Call(name: "=${property}", args: [plain(value)]) }

    String toString() { name }

    private static Object plain(Object value) {
        if (value instanceof GString || value instanceof Call) { return value.toString() }
        if (value instanceof Collection) { return value.collect { plain(it) } }
        if (value instanceof Map) { return value.collectEntries { k, v -> [(k.toString()): plain(v)] } }
        return value
    }

    Map toMap() { [name: name, args: args, children: children*.toMap()] }
}

CompilerConfiguration config = new CompilerConfiguration()
config.scriptBaseClass = DelegatingScript.name
GroovyShell shell = new GroovyShell(new Binding(), config)
// Parse the text under a fixed class name: file names like runner-job.Jenkinsfile are not valid class names.
DelegatingScript script = (DelegatingScript) shell.parse(new File(args[0]).text, 'ProbedScript')
Call root = new Call(name: 'script')
script.setDelegate(root)
script.run()
println JsonOutput.toJson(root.toMap())
