import CSystemShims

/// glibc malloc settings for long-running processes (the operator), set once at start.
public enum MallocTuning {
    /// Fixes malloc's mmap threshold (default 64 KiB; glibc starts at 128 KiB): blocks that
    /// large are mmap'd and unmapped when freed. Left dynamic, glibc raises the threshold to the size of
    /// the first large block freed, and from then on such blocks (a relist's buffers, a
    /// /metrics text of ~300 KiB) come from the calling thread's arena and stay resident there
    /// after they are freed. Returns false if glibc refused.
    @discardableResult
    public static func fixMmapThreshold(bytes: Int32 = 64 * 1024) -> Bool {
        flinklet_malloc_fixed_mmap_threshold(bytes) == 1
    }
}
