import FlinkResources
import Foundation
import Store
import Testing

@Suite("Resources")
struct ResourceTests {
    @Test func upsertedResourcesReadBackListByKeyAndDelete() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            let b = deployment("b")
            let a = deployment("a", namespace: "team")
            var job = ResourceRecord(id: ResourceID(kind: .flinkSessionJob, namespace: "default", name: "job"),
                                     specHash: "h", spec: "{}", createdAt: time(1))
            job.lastReconciledSpec = "{}"
            for record in [b, a, job] { #expect(try unrevised(store.upsert(record)) == record) }

            #expect(try unrevised(store.resource(a.key)) == a)
            #expect(try store.resource("FlinkDeployment/default/missing") == nil)
            #expect(try store.resources().map(\.key) == [b.key, a.key, job.key].sorted())
            #expect(try store.resources(kind: .flinkSessionJob).map { unrevised($0) } == [job])
            #expect(try store.resources(kind: .flinkDeployment).map(\.key) == [b.key, a.key])
            #expect(try store.resourceIDs() == store.resources().map(\.id))

            #expect(try store.deleteResource(b.key))
            #expect(try store.resource(b.key) == nil)
            #expect(try !store.deleteResource(b.key))
            #expect(try store.resources().map(\.key) == [a.key, job.key].sorted())
            #expect(try store.resourceIDs() == [a.id, job.id].sorted { $0.key < $1.key })
        }
    }

    @Test func uidAndCreationTimeStayForTheResourcesLifeAndAreNewAfterDelete() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            let first = try store.upsert(deployment("counter", generation: 1, uid: "uid-1", at: 0))

            var update = deployment("counter", generation: 2, uid: "uid-2", at: 10)
            update.status = #"{"lifecycleState":"DEPLOYED"}"#
            let stored = try store.upsert(update)
            #expect(stored.uid == "uid-1")
            #expect(stored.createdAt == first.createdAt)
            #expect(stored.updatedAt == time(10))
            #expect(stored.generation == 2)
            #expect(stored.status == update.status)
            #expect(try store.resource(update.key) == stored)

            try store.deleteResource(update.key)
            #expect(try store.upsert(update).uid == "uid-2")
        }
    }

    @Test func deletingAResourceDeletesItsEventsAndPortLeasesButNotItsPods() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            let gone = try store.upsert(deployment("gone"))
            let kept = try store.upsert(deployment("kept"))
            for record in [gone, kept] {
                try store.recordEvent(event(record.key, "Submit", "submitted", at: 1))
                _ = try store.leasePorts(owner: record.key, count: 2, range: 30_000...30_010)
            }
            let pod = PodRecordRow(name: "gone-jobmanager-0", owner: gone.key, pid: 10, pgid: 10, processStartTicks: 1,
                                   specHash: "h", spec: Data(), startedAt: time(0))
            try store.savePod(pod)

            try store.deleteResource(gone.key)
            #expect(try store.events(for: gone.key).isEmpty)
            #expect(try store.ports(owner: gone.key).isEmpty)
            #expect(try store.events(for: nil).map(\.key) == [kept.key])
            #expect(try store.ports(owner: kept.key).count == 2)
            #expect(try store.pods(owner: gone.key) == [pod])
        }
    }

    @Test func statusesRoundTripThroughSortedJSON() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            let status = FlinkDeploymentStatus(
                jobStatus: JobStatus(jobName: "counter", state: "RUNNING", upgradeSavepointPath: "file:///sp/1"),
                observedGeneration: 3, lifecycleState: .stable, clusterInfo: ["rest-url": "http://127.0.0.1:8081"],
                jobManagerDeploymentStatus: .ready,
                conditions: [Condition(type: "Ready", status: .true, observedGeneration: 3)])
            var record = deployment("counter")
            try record.setStatus(status)
            #expect(record.status == (try ResourceRecord.json(status)))
            #expect(record.status?.contains(#""clusterInfo":{"rest-url":"http://127.0.0.1:8081"},"conditions""#) == true)

            let stored = try store.upsert(record)
            #expect(try stored.deploymentStatus() == status)

            var job = ResourceRecord(id: ResourceID(kind: .flinkSessionJob, namespace: "default", name: "job"), specHash: "h", spec: "{}")
            #expect(try job.sessionJobStatus() == nil)
            try job.setStatus(FlinkSessionJobStatus(error: "boom", lifecycleState: .failed))
            #expect(try job.sessionJobStatus()?.error == "boom")
            try job.setStatus(nil as FlinkSessionJobStatus?)
            #expect(job.status == nil)
        }
    }

    @Test func aStatusThatIsNotValidJSONNamesTheResource() {
        var record = deployment("counter")
        record.status = "{not json"
        let error = #expect(throws: StoreError.self) { try record.deploymentStatus() }
        guard case .invalidRecord(let key, let message) = error else {
            Issue.record("expected .invalidRecord, got \(String(describing: error))")
            return
        }
        #expect(key == record.key)
        #expect(message.hasPrefix("status is not a valid FlinkDeploymentStatus"))
    }
}

@Suite("Events")
struct EventTests {
    static let key = "FlinkDeployment/default/counter"

    @Test func aRepeatedEventIsCountedInOneRowWithItsFirstAndLastTime() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            let first = try store.recordEvent(event(Self.key, "JobStatusChanged", "Job status changed to RESTARTING", at: 1, type: .warning))
            let second = try store.recordEvent(event(Self.key, "JobStatusChanged", "Job status changed to RESTARTING", at: 5, type: .warning))

            #expect(first.count == 1)
            #expect(second.id == first.id)
            #expect(second.count == 2)
            #expect(second.firstTimestamp == time(1))
            #expect(second.lastTimestamp == time(5))
            #expect(try store.events(for: Self.key) == [second])
        }
    }

    @Test func eventsDifferingInTypeReasonMessageOrResourceAreSeparate() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            try store.recordEvent(event(Self.key, "Submit", "a", at: 4))
            try store.recordEvent(event(Self.key, "Submit", "b", at: 3))
            try store.recordEvent(event(Self.key, "Submit", "a", at: 2, type: .warning))
            try store.recordEvent(event(Self.key, "Rollback", "a", at: 1))
            try store.recordEvent(event("FlinkDeployment/default/other", "Submit", "a", at: 0))

            #expect(try store.events(for: Self.key).map(\.lastTimestamp) == [time(1), time(2), time(3), time(4)])
            #expect(try store.events(for: nil).map(\.lastTimestamp) == [time(0), time(1), time(2), time(3), time(4)])
            #expect(try store.events(for: nil).allSatisfy { $0.count == 1 })
        }
    }

    @Test func eachResourceKeepsOnlyItsNewestHundredEvents() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            #expect(store.eventLimitPerResource == 100)
            try store.recordEvent(event("FlinkDeployment/default/quiet", "Submit", "only", at: 0))
            for i in 0..<150 {
                try store.recordEvent(event(Self.key, "SpecChanged", "change \(i)", at: Double(i + 1)))
            }
            let kept = try store.events(for: Self.key)
            #expect(kept.count == 100)
            #expect(kept.map(\.message) == (50..<150).map { "change \($0)" })
            #expect(try store.events(for: "FlinkDeployment/default/quiet").count == 1)
        }
    }
}

@Suite("Pods")
struct PodTests {
    @Test func podRecordsSaveListReplaceAndDelete() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            let owner = "FlinkDeployment/default/app"
            let jm = PodRecordRow(name: "app-jobmanager-0", owner: owner, pid: 100, pgid: 100, processStartTicks: UInt64.max - 1,
                                  specHash: "h1", spec: Data([0, 1, 2, 255]), startedAt: time(1))
            var tm = PodRecordRow(name: "app-taskmanager-1", owner: owner, pid: 101, pgid: 101, processStartTicks: 987_654_321,
                                  specHash: "h1", spec: Data(), startedAt: time(2))
            let other = PodRecordRow(name: "other-jobmanager-0", owner: "FlinkDeployment/default/other", pid: 200, pgid: 200,
                                     processStartTicks: 5, specHash: "h2", spec: Data("{}".utf8), startedAt: time(3))
            for pod in [other, tm, jm] { try store.savePod(pod) }

            #expect(try store.pods() == [jm, tm, other])
            #expect(try store.pods(owner: owner) == [jm, tm])

            tm.pid = 102
            tm.pgid = 102
            try store.savePod(tm)
            #expect(try store.pods(owner: owner) == [jm, tm])

            #expect(try store.deletePod(name: jm.name))
            #expect(try !store.deletePod(name: jm.name))
            #expect(try store.pods() == [tm, other])
        }
    }
}

@Suite("Port leases")
struct PortLeaseTests {
    @Test func distinctOwnersGetDisjointPortsLowestFirst() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            #expect(try store.leasePorts(owner: "a", count: 3, range: 8000...8099) == [8000, 8001, 8002])
            #expect(try store.leasePorts(owner: "b", count: 2, range: 8000...8099) == [8003, 8004])
            try store.releasePorts(owner: "a")
            #expect(try store.ports(owner: "a").isEmpty)
            #expect(try store.leasePorts(owner: "c", count: 4, range: 8000...8099) == [8000, 8001, 8002, 8005])
            #expect(try store.leasePorts(owner: "d", count: 0, range: 8000...8099) == [])
        }
    }

    @Test func releasingAnOwnerReleasesItsPartsButNotOwnersThatMerelyShareAPrefix() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            _ = try store.leasePorts(owner: "FlinkDeployment/default/app", count: 2, range: 8000...8099)
            _ = try store.leasePorts(owner: "FlinkDeployment/default/app#metrics", count: 3, range: 8000...8099)
            _ = try store.leasePorts(owner: "FlinkDeployment/default/app2#metrics", count: 1, range: 8000...8099)
            try store.releasePorts(owner: "FlinkDeployment/default/app")
            #expect(try store.ports(owner: "FlinkDeployment/default/app#metrics").isEmpty)
            #expect(try store.ports(owner: "FlinkDeployment/default/app2#metrics") == [8005])
        }
    }

    @Test func anOwnerKeepsItsPortsAcrossRestartsAndGrowingLeasesKeepTheirOrder() throws {
        try withStateDirectory { dir in
            let first: [Int]
            do {
                let store = try Store.open(stateDirectory: dir)
                _ = try store.leasePorts(owner: "early", count: 1, range: 9000...9099)
                first = try store.leasePorts(owner: "app", count: 2, range: 9000...9099)
                try store.releasePorts(owner: "early")  // 9000 is free again, and lower than app's ports
            }
            let store = try Store.open(stateDirectory: dir)
            #expect(try store.leasePorts(owner: "app", count: 2, range: 9000...9099) == first)
            #expect(try store.leasePorts(owner: "app", count: 1, range: 9000...9099) == [first[0]])
            #expect(try store.leasePorts(owner: "app", count: 3, range: 9000...9099) == first + [9000])
            #expect(try store.ports(owner: "app") == first + [9000])
        }
    }

    @Test func exhaustionThrowsAndLeasesNothing() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            _ = try store.leasePorts(owner: "a", count: 2, range: 7000...7002)
            #expect(throws: StoreError.noFreePorts(owner: "b", requested: 2, range: 7000...7002, available: 1)) {
                try store.leasePorts(owner: "b", count: 2, range: 7000...7002)
            }
            #expect(try store.ports(owner: "b").isEmpty)
            #expect(try store.leasePorts(owner: "b", count: 1, range: 7000...7002) == [7002])
            let message = String(describing: StoreError.noFreePorts(owner: "b", requested: 2, range: 7000...7002, available: 1))
            #expect(message == "no free ports for b: 2 needed in 7000-7002, 1 available")
        }
    }
}
