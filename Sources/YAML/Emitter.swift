import CLibYAML

/// Writes node trees as YAML text through libyaml's emitter.
///
/// Guarantees: `parseYAML(emitYAML(docs))` yields trees equal to `docs` (content, scalar styles
/// and tags; marks differ). A scalar keeps its style when libyaml can write it so, otherwise
/// libyaml picks a quoted style that keeps the same text.
public func emitYAML(_ documents: [Node], explicitDocumentStart: Bool = false) throws(YAMLError) -> String {
    let output = OutputBuffer()
    // libyaml keeps pointers into its emitter struct: it must stay at one address, never be copied.
    let emitter = UnsafeMutablePointer<yaml_emitter_t>.allocate(capacity: 1)
    emitter.initialize(to: yaml_emitter_t())
    defer { emitter.deallocate() }
    guard yaml_emitter_initialize(emitter) == 1 else {
        throw YAMLError(.syntax, "could not initialise the YAML emitter (out of memory)")
    }
    defer { yaml_emitter_delete(emitter) }
    yaml_emitter_set_unicode(emitter, 1)
    yaml_emitter_set_indent(emitter, 2)
    yaml_emitter_set_width(emitter, -1)
    let context = Unmanaged.passUnretained(output).toOpaque()
    yaml_emitter_set_output(emitter, { data, buffer, size in
        guard let data, let buffer else { return 0 }
        let output = Unmanaged<OutputBuffer>.fromOpaque(data).takeUnretainedValue()
        output.bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
        return 1
    }, context)

    var session = EmitterSession(emitter: emitter)
    try session.emit { event in yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING) }
    for document in documents {
        try session.emit { event in
            yaml_document_start_event_initialize(&event, nil, nil, nil, explicitDocumentStart || documents.count > 1 ? 0 : 1)
        }
        // An empty plain scalar alone in a document would read back as no document at all;
        // `~` is the same null, written visibly.
        if let scalar = document.scalar, scalar.text.isEmpty, scalar.style == .plain, scalar.tag == nil {
            try session.emitNode(.scalar("~"))
        } else {
            try session.emitNode(document)
        }
        try session.emit { event in yaml_document_end_event_initialize(&event, 1) }
    }
    try session.emit { event in yaml_stream_end_event_initialize(&event) }
    return withExtendedLifetime(output) { String(decoding: output.bytes, as: UTF8.self) }
}

private final class OutputBuffer {
    var bytes: [UInt8] = []
}

private struct EmitterSession {
    let emitter: UnsafeMutablePointer<yaml_emitter_t>

    mutating func emit(_ initialize: (inout yaml_event_t) -> Int32) throws(YAMLError) {
        var event = yaml_event_t()
        guard initialize(&event) == 1 else {
            throw YAMLError(.syntax, "could not build a YAML event")
        }
        // yaml_emitter_emit takes ownership of the event, also on failure.
        guard yaml_emitter_emit(emitter, &event) == 1 else {
            let problem = emitter.pointee.problem.map { String(cString: $0) } ?? "unknown error"
            throw YAMLError(.syntax, "could not write YAML: \(problem)")
        }
    }

    /// Emits a node without recursion limits of its own: trees come from the parser (bounded depth)
    /// or from encoders of finite values.
    mutating func emitNode(_ node: Node) throws(YAMLError) {
        switch node.content {
        case .scalar(let scalar):
            let style: yaml_scalar_style_t = switch scalar.style {
            case .plain: YAML_PLAIN_SCALAR_STYLE
            case .singleQuoted: YAML_SINGLE_QUOTED_SCALAR_STYLE
            case .doubleQuoted: YAML_DOUBLE_QUOTED_SCALAR_STYLE
            case .literal: YAML_LITERAL_SCALAR_STYLE
            case .folded: YAML_FOLDED_SCALAR_STYLE
            }
            let implicit: Int32 = scalar.tag == nil ? 1 : 0
            var bytes = Array(scalar.text.utf8) + [0]  // never empty, so the pointer is never nil
            try withOptionalCString(scalar.tag) { tag throws(YAMLError) in
                try emit { event in
                    bytes.withUnsafeMutableBufferPointer { buffer in
                        yaml_scalar_event_initialize(
                            &event, nil, tag, buffer.baseAddress, Int32(buffer.count - 1), implicit, implicit, style)
                    }
                }
            }
        case .sequence(let items):
            try emit { event in yaml_sequence_start_event_initialize(&event, nil, nil, 1, items.isEmpty ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE) }
            for item in items { try emitNode(item) }
            try emit { event in yaml_sequence_end_event_initialize(&event) }
        case .mapping(let pairs):
            try emit { event in yaml_mapping_start_event_initialize(&event, nil, nil, 1, pairs.isEmpty ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE) }
            for pair in pairs {
                try emitNode(pair.key)
                try emitNode(pair.value)
            }
            try emit { event in yaml_mapping_end_event_initialize(&event) }
        }
    }
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafeMutablePointer<yaml_char_t>?) throws(YAMLError) -> R) throws(YAMLError) -> R {
    guard let string else { return try body(nil) }
    var bytes = Array(string.utf8) + [0]
    let result: Result<R, YAMLError> = bytes.withUnsafeMutableBufferPointer { buffer in
        do throws(YAMLError) { return .success(try body(buffer.baseAddress)) } catch { return .failure(error) }
    }
    return try result.get()
}

extension Node {
    /// A scalar node holding `text` as a string, quoted only when writing it plain would make it
    /// read back as something else (`"true"`, `"8081"`, `""`, ...). Multi-line text uses a
    /// literal block.
    public static func string(_ text: String) -> Node {
        let plain = Scalar(text, style: .plain)
        if text.contains("\n") { return Node(.scalar(Scalar(text, style: .literal))) }
        if case .string = ResolvedScalar(plain), !text.isEmpty { return Node(.scalar(plain)) }
        return Node(.scalar(Scalar(text, style: .doubleQuoted)))
    }
}
