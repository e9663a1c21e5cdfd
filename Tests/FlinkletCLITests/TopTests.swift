import Testing
@testable import FlinkletCLI

@Suite struct TopTests {
    @Test func readsCAdvisorSeriesFromTheOperatorsExposition() {
        let text = """
            # TYPE container_cpu_usage_seconds_total gauge
            container_cpu_usage_seconds_total{namespace="default",pod="app-jobmanager-0"} 6.33
            container_cpu_usage_seconds_total{namespace="default",pod="app-taskmanager-1-0"} 4.5
            # TYPE container_memory_working_set_bytes gauge
            container_memory_working_set_bytes{namespace="default",pod="app-jobmanager-0"} 320028672.0
            container_memory_working_set_bytes{namespace="default",pod="app-taskmanager-1-0"} 323817472.0
            flink_k8soperator_namespace_Count{resourcens="default",resourcetype="FlinkDeployment"} 1.0
            """
        let samples = Top.samples(text)
        #expect(samples["default/app-jobmanager-0"] == Top.Sample(cpuSeconds: 6.33, memoryBytes: 320_028_672))
        #expect(samples["default/app-taskmanager-1-0"] == Top.Sample(cpuSeconds: 4.5, memoryBytes: 323_817_472))
        #expect(samples.count == 2)
    }

    @Test func printsKubectlTopUnits() {
        #expect(Top.millicores(0.0304) == "30m")
        #expect(Top.millicores(1.5) == "1500m")
        #expect(Top.mebibytes(320_028_672) == "305Mi")
    }
}
