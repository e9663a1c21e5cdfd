/// Manifests the CLI tests write into their scratch directories.
enum ManifestText {
    /// An application-mode FlinkDeployment; valid unless `upgradeMode` is not a supported value.
    static func application(name: String, upgradeMode: String = "stateless", namespace: String? = nil) -> String {
        """
        # An application cluster written by FlinkletCLITests.
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkDeployment
        metadata:
          name: \(name)
        \(namespace.map { "  namespace: \($0)\n" } ?? "")spec:
          flinkVersion: v2_3
          mode: application
          jobManager:
            resource:
              memory: 768m
          taskManager:
            resource:
              memory: 1g
          job:
            jarURI: local:///opt/flink/usrlib/flinklet-counter-job.jar
            parallelism: 1
            upgradeMode: \(upgradeMode)

        """
    }

    /// A session-mode FlinkDeployment that sets the Kubernetes-only `serviceAccount`: valid, with a warning.
    static func sessionWithServiceAccount(name: String) -> String {
        """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkDeployment
        metadata:
          name: \(name)
        spec:
          flinkVersion: v2_3
          serviceAccount: flink
          mode: session
          jobManager:
            resource:
              memory: 768m
          taskManager:
            replicas: 1
            resource:
              memory: 1g

        """
    }

    /// A valid FlinkSessionJob.
    static func sessionJob(name: String, deployment: String = "session") -> String {
        """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkSessionJob
        metadata:
          name: \(name)
        spec:
          deploymentName: \(deployment)
          job:
            jarURI: local:///opt/flink/usrlib/flinklet-counter-job.jar
            parallelism: 1
            upgradeMode: stateless

        """
    }

    /// A valid application-mode FlinkDeployment written as JSON.
    static func applicationJSON(name: String) -> String {
        """
        {
          "apiVersion": "flink.apache.org/v1beta1",
          "kind": "FlinkDeployment",
          "metadata": {"name": "\(name)"},
          "spec": {
            "flinkVersion": "v2_3",
            "mode": "application",
            "jobManager": {"resource": {"memory": "768m"}},
            "taskManager": {"resource": {"memory": "1g"}},
            "job": {
              "jarURI": "local:///opt/flink/usrlib/flinklet-counter-job.jar",
              "parallelism": 1,
              "upgradeMode": "stateless"
            }
          }
        }

        """
    }

    /// The diagnostic (after `FILE:LINE:COL: `) for `upgradeMode: savepiont`.
    static let savepiontDiagnostic =
        #"spec.job.upgradeMode: Unsupported value: "savepiont": supported values: "stateless", "savepoint", "last-state""#
}
