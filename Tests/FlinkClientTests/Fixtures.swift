/// Answers recorded from a real Flink 2.3.0 session cluster (trimmed where noted), so parsing
/// is tested against what Flink actually sends.
enum Flink23 {
    static let overview = #"""
    {"taskmanagers":1,"slots-total":2,"slots-available":2,"jobs-running":0,"jobs-finished":0,"jobs-cancelled":0,"jobs-failed":0,"flink-version":"2.3.0","flink-commit":"c0f8d1a"}
    """#

    static let jobsOverview = #"""
    {"jobs":[{"jid":"00000000000000000000000000000001","name":"flinklet-counter","jobType":"STREAMING","schedulerType":"Default","start-time":1795256699918,"end-time":-1,"duration":9837,"state":"RUNNING","last-modification":1795256701952,"tasks":{"running":2,"canceling":0,"canceled":0,"total":2,"created":0,"scheduled":0,"deploying":0,"reconciling":0,"finished":0,"initializing":0,"failed":0},"pending-operators":0}]}
    """#

    /// `plan` and the vertices' `metrics` removed.
    static let jobDetailsCanceled = #"""
    {"jid": "f3a7e7bd51313c0813cd66e6139536ba", "application-id": "f3a7e7bd51313c0813cd66e6139536ba", "name": "flinklet-counter", "isStoppable": false, "state": "CANCELED", "job-type": "STREAMING", "schedulerType": "Default", "start-time": 1795256757055, "end-time": 1795256758364, "duration": 1309, "maxParallelism": -1, "now": 1795256826258, "timestamps": {"RESTARTING": 0, "SUSPENDED": 0, "INITIALIZING": 1795256757055, "FAILED": 0, "CANCELLING": 1795256758336, "FINISHED": 0, "CREATED": 1795256757074, "RECONCILING": 0, "RUNNING": 1795256757081, "CANCELED": 1795256758364, "FAILING": 0}, "vertices": [{"id": "0c80f7e50ab54b30f6a2580946f9e942", "slotSharingGroupId": "4f1ba46d97c0889cc43d6409b2cd91ab", "name": "Source: events", "maxParallelism": 128, "parallelism": 1, "status": "CANCELED", "start-time": 1795256757208, "end-time": 1795256758361, "duration": 1153, "tasks": {"CREATED": 0, "DEPLOYING": 0, "FAILED": 0, "INITIALIZING": 0, "CANCELED": 1, "SCHEDULED": 0, "RUNNING": 0, "FINISHED": 0, "RECONCILING": 0, "CANCELING": 0}}, {"id": "5b61d6019ab04da71a4e62533c1a8c40", "slotSharingGroupId": "4f1ba46d97c0889cc43d6409b2cd91ab", "name": "count-per-key -> append-to-file: Writer", "maxParallelism": 128, "parallelism": 1, "status": "CANCELED", "start-time": 1795256757209, "end-time": 1795256758363, "duration": 1154, "tasks": {"CREATED": 0, "DEPLOYING": 0, "FAILED": 0, "INITIALIZING": 0, "CANCELED": 1, "SCHEDULED": 0, "RUNNING": 0, "FINISHED": 0, "RECONCILING": 0, "CANCELING": 0}}], "status-counts": {"CREATED": 0, "DEPLOYING": 0, "FAILED": 0, "INITIALIZING": 0, "CANCELED": 2, "SCHEDULED": 0, "RUNNING": 0, "FINISHED": 0, "RECONCILING": 0, "CANCELING": 0}, "pending-operators": 0}
    """#

    /// `summary` removed, `history` cut to one entry.
    static let checkpoints = #"""
    {"counts": {"restored": 0, "total": 2, "in_progress": 0, "completed": 2, "failed": 0}, "latest": {"completed": {"className": "completed", "id": 2, "status": "COMPLETED", "is_savepoint": false, "savepointFormat": null, "trigger_timestamp": 1795256757347, "latest_ack_timestamp": 1795256757379, "checkpointed_size": 4163, "state_size": 4163, "end_to_end_duration": 32, "alignment_buffered": 0, "processed_data": 0, "persisted_data": 0, "num_subtasks": 2, "num_acknowledged_subtasks": 2, "checkpoint_type": "CHECKPOINT", "tasks": {}, "external_path": "file:/tmp/fcsmoke/ckpt/f3a7e7bd51313c0813cd66e6139536ba/chk-2", "discarded": false}, "savepoint": null, "failed": null, "restored": null}, "history": [{"className": "completed", "id": 2, "status": "COMPLETED", "is_savepoint": false, "savepointFormat": null, "trigger_timestamp": 1795256757347, "latest_ack_timestamp": 1795256757379, "checkpointed_size": 4163, "state_size": 4163, "end_to_end_duration": 32, "alignment_buffered": 0, "processed_data": 0, "persisted_data": 0, "num_subtasks": 2, "num_acknowledged_subtasks": 2, "checkpoint_type": "CHECKPOINT", "tasks": {}, "external_path": "file:/tmp/fcsmoke/ckpt/f3a7e7bd51313c0813cd66e6139536ba/chk-2", "discarded": false}]}
    """#

    static let checkpointsNone = #"""
    {"counts":{"restored":0,"total":0,"in_progress":0,"completed":0,"failed":0},"latest":{"completed":null,"savepoint":null,"failed":null,"restored":null},"history":[]}
    """#

    static let upload = #"""
    {"filename":"/tmp/fcsmoke/web/flink-web-upload/13efa191-ff50-4bab-ab4b-fa648c5f7a81_job.jar","status":"success"}
    """#

    static let run = #"""
    {"jobid":"00000000000000000000000000000001","applicationId":"00000000000000000000000000000001"}
    """#

    static let savepointCompleted = #"""
    {"status":{"id":"COMPLETED"},"operation":{"location":"file:/tmp/fcsmoke/sp/savepoint-000000-71ad38747ea9"}}
    """#

    static let savepointInProgress = #"""
    {"status":{"id":"IN_PROGRESS"},"operation":null}
    """#

    /// A savepoint into an unwritable directory: COMPLETED, with a failure cause and no location.
    /// The stack trace is cut to its first lines and `Caused by:` lines, `serialized-throwable` shortened.
    static let savepointFailed = #"""
    {"status": {"id": "COMPLETED"}, "operation": {"failure-cause": {"class": "java.util.concurrent.CompletionException", "stack-trace": "java.util.concurrent.CompletionException: org.apache.flink.runtime.checkpoint.CheckpointException: An Exception occurred while triggering the checkpoint. IO-problem detected.\n\tat java.base/java.util.concurrent.CompletableFuture.encodeRelay(CompletableFuture.java:368)\n\tat java.base/java.util.concurrent.CompletableFuture.completeRelay(CompletableFuture.java:377)\nCaused by: org.apache.flink.runtime.checkpoint.CheckpointException: An Exception occurred while triggering the checkpoint. IO-problem detected.\nCaused by: java.io.IOException: Failed to create savepoint directory at /proc/nope\n\t... 3 more\n", "serialized-throwable": "rO0ABXNyAClvcmcuYXBhY2hlLmZsaW5rLnV0aWwu"}}}
    """#

    /// Polling a stop-with-savepoint for a job id the cluster does not know.
    static let stopUnknownJob = #"""
    {"status": {"id": "COMPLETED"}, "operation": {"failure-cause": {"class": "java.util.concurrent.CompletionException", "stack-trace": "java.util.concurrent.CompletionException: org.apache.flink.runtime.messages.FlinkJobNotFoundException: Could not find Flink job (00000000000000000000000000000009)\n\tat java.base/java.util.concurrent.CompletableFuture.encodeRelay(CompletableFuture.java:368)\nCaused by: org.apache.flink.runtime.messages.FlinkJobNotFoundException: Could not find Flink job (00000000000000000000000000000009)\n\t... 5 more\n", "serialized-throwable": "rO0A"}}}
    """#

    /// `runJar` with the id of a job the cluster remembers (here a FINISHED one); stack frames cut.
    static let duplicateSubmission = #"""
    {"errors":["org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n\tat org.apache.flink.runtime.webmonitor.handlers.JarRunHandler.lambda$handleRequest$1(JarRunHandler.java:114)\nCaused by: java.util.concurrent.CompletionException: org.apache.flink.util.FlinkRuntimeException: Could not execute application.\n\t... 1 more\nCaused by: org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: Failed to execute job 'flinklet-counter'.\n\t... 4 more\nCaused by: org.apache.flink.runtime.client.DuplicateApplicationSubmissionException: Application has already been submitted.\n\tat org.apache.flink.runtime.dispatcher.Dispatcher.lambda$submitApplication$9(Dispatcher.java:952)\n\tat java.base/java.util.concurrent.ForkJoinWorkerThread.run(ForkJoinWorkerThread.java:165)\n"]}
    """#

    /// `runJar` for a jar id that does not exist: a 500 with a server-side exception; frames cut.
    static let unknownJar = #"""
    {"errors":["Internal server error.","<Exception on server side:\njava.util.concurrent.CompletionException: org.apache.flink.runtime.rest.handler.RestHandlerException: Jar file /tmp/fcsmoke/web/flink-web-upload/nope.jar does not exist\n\tat org.apache.flink.runtime.webmonitor.handlers.utils.JarHandlerUtils$JarHandlerContext.toPackagedProgram(JarHandlerUtils.java:197)\nCaused by: org.apache.flink.runtime.rest.handler.RestHandlerException: Jar file /tmp/fcsmoke/web/flink-web-upload/nope.jar does not exist\n\t... 43 more\n\nEnd of exception on server side>"]}
    """#

    static let cancelFinished = #"""
    {"errors":["org.apache.flink.runtime.rest.handler.RestHandlerException: Job cancellation failed because the job has already reached another terminal state (FINISHED).\n\tat org.apache.flink.runtime.rest.handler.job.JobCancellationHandler.lambda$handleRequest$0(JobCancellationHandler.java:121)\n"]}
    """#

    static let noSavepointDirectory = #"""
    {"errors":["org.apache.flink.runtime.rest.handler.RestHandlerException: Config key [execution.checkpointing.savepoint-dir] is not set. Property [target-directory] must be provided.\n\tat org.apache.flink.runtime.rest.handler.job.savepoints.SavepointHandlers$SavepointTriggerHandler.triggerOperation(SavepointHandlers.java:210)\n"]}
    """#

    static let jobNotFound = #"""
    {"errors":["org.apache.flink.runtime.rest.NotFoundException: Job 00000000000000000000000000000009 not found\n\tat org.apache.flink.runtime.rest.handler.job.AbstractExecutionGraphHandler.lambda$handleRequest$1(AbstractExecutionGraphHandler.java:99)\nCaused by: org.apache.flink.runtime.messages.FlinkJobNotFoundException: Could not find Flink job (00000000000000000000000000000009)\n\tat org.apache.flink.runtime.dispatcher.Dispatcher.requestExecutionGraphInfo(Dispatcher.java:1769)\n"]}
    """#
}
