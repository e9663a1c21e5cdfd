import Testing
@testable import Controller
import Engine

/// What a failed Flink process's log says went wrong (excerpts of real Flink 2.3 logs).
@Suite struct FailureMessageTests {
    @Test func theEntrypointsFailureWinsOverErrorsOfThreadsDyingAtShutdown() {
        // A JobManager started on 2 cores with 40 other JVMs: its actor system timed out, and
        // threads then failed to load classes while the JVM shut down.
        let log = """
            2026-11-21 11:12:49,851 INFO  org.apache.flink.runtime.rpc.pekko.PekkoRpcServiceUtils      [] - Trying to start actor system, external address 127.0.0.1:33081, bind address 127.0.0.1:33081.
            2026-11-21 11:13:37,415 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint        [] - Shutting StandaloneSessionClusterEntrypoint down with application status FAILED. Diagnostics java.lang.Exception: Could not create actor system
            \tat org.apache.flink.runtime.rpc.pekko.ActorSystemBootstrapTools.startRemoteActorSystem(ActorSystemBootstrapTools.java:205)
            \tat org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint.main(StandaloneSessionClusterEntrypoint.java:59)
            Caused by: java.util.concurrent.TimeoutException: Futures timed out after [10000 milliseconds]
            \tat scala.concurrent.impl.Promise$DefaultPromise.ready(Promise.scala:269)
            2026-11-21 11:13:38,648 ERROR org.apache.flink.util.FatalExitExceptionHandler              [] - FATAL: Thread 'flink-pekko.remote.default-remote-dispatcher-5' produced an uncaught exception. Stopping the process...
            java.lang.NoClassDefFoundError: org/apache/pekko/actor/dungeon/FaultHandling$$anonfun$handleNonFatalOrInterruptedException$1
            \tat org.apache.pekko.actor.dungeon.FaultHandling.handleNonFatalOrInterruptedException(FaultHandling.scala:334)
            Caused by: java.lang.ClassNotFoundException: org.apache.pekko.actor.dungeon.FaultHandling$$anonfun$handleNonFatalOrInterruptedException$1
            \tat java.net.URLClassLoader.findClass(URLClassLoader.java:445)
            """
        #expect(FlinkBackend.failureMessage(log: log)
                == "Could not create actor system: java.util.concurrent.TimeoutException: Futures timed out after [10000 milliseconds]")
    }

    @Test func withoutAnEntrypointFailureTheLastExceptionsRootCauseIsTheReason() {
        // The Flink client's output (no timestamps): the root cause of its one trace.
        let client = """
            ------------------------------------------------------------
             The program finished with the following exception:

            org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: Could not find class dev.Missing
            \tat org.apache.flink.client.program.PackagedProgram.callMainMethod(PackagedProgram.java:373)
            Caused by: java.lang.ClassNotFoundException: dev.Missing
            \tat java.net.URLClassLoader.findClass(URLClassLoader.java:445)
            """
        #expect(FlinkBackend.failureMessage(log: client) == "The main method caused an error: Could not find class dev.Missing: java.lang.ClassNotFoundException: dev.Missing")
        #expect(FlinkBackend.failureMessage(log: "2026-11-21 11:13:37,415 INFO  x [] - all good\n") == nil)
    }
}
