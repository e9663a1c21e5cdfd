import FlinkResources
import Foundation
import Manifests

/// A write's body on its way from the request to the manifest, without a server, a Store or a
/// manifest directory: parsed as its content type says, patched onto the current object (for
/// patches), checked against the URL's identity, stripped to what a manifest holds, and read
/// back exactly as the operator reads a file. `flinklet-fuzz apibody` drives it; the server's
/// handlers (`create`, `replace`, `patch`) take the same steps with a Store and files around them.
public enum WriteBodies {
    /// How the body is read: a whole object (create, replace), a merge patch, a JSON patch, or
    /// a server-side apply configuration (JSON or YAML).
    public enum Kind: String, CaseIterable, Sendable {
        case object
        case mergePatch
        case jsonPatch
        case apply
    }

    /// What became of a body.
    public enum Outcome: Sendable {
        /// Refused before it reached a manifest, with the HTTP status the server answers.
        case refused(status: Int)
        /// The manifest the write would save, as the operator reads it: its diagnostics, and
        /// whether the object for `id` was found in it.
        case read(diagnostics: [Diagnostic], foundObject: Bool)
    }

    /// The outcome of writing `body` as `kind` to `id`, whose current manifest is `current`.
    public static func evaluate(_ kind: Kind, body: [UInt8], current: JSONValue, id: ResourceID) -> Outcome {
        let request = APIRequest(method: kind == .object ? "PUT" : "PATCH", path: "/", body: body)
        let written: JSONValue
        do {
            switch kind {
            case .object:
                written = try KubeAPIServer.body(request)
            case .apply:
                // As the server applies onto a manifest written by hand: every field is
                // `before-first-apply`'s, so a changed value is a conflict (409).
                var fields = ManagedFields.owned(by: ManagedFields.beforeFirstApply, current, now: Date(timeIntervalSince1970: 0))
                do {
                    written = try fields.apply(try KubeAPIServer.body(request), to: current, manager: "fuzz", force: false,
                                               now: Date(timeIntervalSince1970: 0))
                } catch let conflicts as ManagedFields.Conflicts {
                    return .refused(status: conflicts.apiError.code)
                }
            case .mergePatch:
                guard let patch = JSONText.parse(body) else { return .refused(status: 400) }
                written = Patch.merge(current, patch)
            case .jsonPatch:
                guard let patch = JSONText.parse(body) else { return .refused(status: 400) }
                written = try Patch.json(current, patch)
            }
            let object = try KubeAPIServer.checkedIdentity(written, id: id)
            let (file, found) = KubeAPIServer.read(KubeAPIServer.manifest(object), id: id)
            return .read(diagnostics: file.diagnostics, foundObject: found != nil)
        } catch let error as APIError {
            return .refused(status: error.code)
        } catch {
            return .refused(status: 422)
        }
    }
}
