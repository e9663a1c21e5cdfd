import FlinkResources

/// The pod template of the generic engine until the Flink planner takes over: a resource
/// annotated `flinklet.dev/command: "<shell command>"` gets `flinklet.dev/replicas` pods
/// (default 1) running that command with `/bin/sh -c`; other resources get no pods.
///
/// It exists so the engine (watching, queueing, pods, adoption, status) can be run and measured
/// end to end with simple commands; it is not how Flink clusters are described.
public enum CommandPods {
    public static let commandAnnotation = "flinklet.dev/command"
    public static let replicasAnnotation = "flinklet.dev/replicas"

    public static let planner = PodSetPlanner { id, resource in
        let annotations = resource.metadata.annotations ?? [:]
        guard let command = annotations[commandAnnotation] else { return [] }
        let replicas = annotations[replicasAnnotation].flatMap(Int.init).map { max(0, $0) } ?? 1
        return (0..<replicas).map { index in
            PodPlan(name: "\(id.name)-main-\(index)", role: .main, argv: ["/bin/sh", "-c", command],
                    terminationGracePeriod: .seconds(5))
        }
    }
}
