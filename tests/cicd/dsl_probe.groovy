// Evaluates the Job DSL seed script with real Groovy and prints the call tree it makes as JSON.
// Every DSL call (folder, pipelineJob, scriptPath, choiceParam, ...) is recorded with its arguments, and nested
// closures are evaluated, so the test sees what the seed really generates (loops, conditions and all).
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
        return call
    }

    private static Object plain(Object value) {
        if (value instanceof GString) { return value.toString() }
        if (value instanceof Collection) { return value.collect { plain(it) } }
        if (value instanceof Map) { return value.collectEntries { k, v -> [(k.toString()): plain(v)] } }
        return value
    }

    Map toMap() { [name: name, args: args, children: children*.toMap()] }
}

CompilerConfiguration config = new CompilerConfiguration()
config.scriptBaseClass = DelegatingScript.name
GroovyShell shell = new GroovyShell(new Binding(), config)
DelegatingScript seed = (DelegatingScript) shell.parse(new File(args[0]))
Call root = new Call(name: 'seed')
seed.setDelegate(root)
seed.run()
println JsonOutput.toJson(root.toMap())
