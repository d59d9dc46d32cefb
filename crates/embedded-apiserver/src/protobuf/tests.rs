use super::*;

/// A minimal protobuf writer for building request bodies in tests.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(mut self, number: u32, mut value: u64) -> Self {
        self.key(number, 0);
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.0.push(byte);
                return self;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn bytes(mut self, number: u32, bytes: &[u8]) -> Self {
        self.key(number, 2);
        self.raw_varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
        self
    }

    fn string(self, number: u32, text: &str) -> Self {
        self.bytes(number, text.as_bytes())
    }

    fn message(self, number: u32, inner: Message) -> Self {
        self.bytes(number, &inner.0)
    }

    fn entry(self, number: u32, key: &str, value: &[u8]) -> Self {
        self.message(number, Message::default().string(1, key).bytes(2, value))
    }

    fn fixed64(mut self, number: u32) -> Self {
        self.key(number, 1);
        self.0.extend_from_slice(&[0; 8]);
        self
    }

    fn key(&mut self, number: u32, wire_type: u64) {
        self.raw_varint((u64::from(number) << 3) | wire_type);
    }

    fn raw_varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }
}

fn envelope(api_version: &str, kind: &str, raw: Message) -> Vec<u8> {
    let type_meta = Message::default().string(1, api_version).string(2, kind);
    let unknown = Message::default()
        .message(1, type_meta)
        .bytes(2, &raw.0)
        .string(3, "")
        .string(4, "");
    [MAGIC, &unknown.0].concat()
}

fn metadata() -> Message {
    Message::default()
        .string(1, "sh.helm.release.v1.demo.v1")
        .string(3, "helm-proof")
        .string(5, "7c9e6679-7425-40de-944b-e07fc1f90ae7")
        .string(6, "42")
        .message(8, Message::default().varint(1, 1_767_268_800))
        .entry(11, "owner", b"helm")
        .entry(11, "status", b"deployed")
        .string(14, "example.com/keep")
        .message(
            13,
            Message::default()
                .string(1, "Deployment")
                .string(3, "web")
                .string(4, "u-1")
                .string(5, "apps/v1")
                .varint(6, 1),
        )
        .message(
            17,
            Message::default()
                .string(1, "helm")
                .string(2, "Update")
                .string(3, "v1")
                .message(4, Message::default().varint(1, 1_767_268_800))
                .string(6, "FieldsV1")
                .message(7, Message::default().bytes(1, br#"{"f:data":{".":{}}}"#)),
        )
}

#[test]
fn decodes_a_helm_release_secret() {
    let secret = Message::default()
        .message(1, metadata())
        .entry(2, "release", b"\x1f\x8b binary")
        .string(3, "helm.sh/release.v1");
    let decoded = decode(&envelope("v1", "Secret", secret)).unwrap();
    assert_eq!(
        decoded,
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "sh.helm.release.v1.demo.v1",
                "namespace": "helm-proof",
                "uid": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
                "resourceVersion": "42",
                "creationTimestamp": "2026-01-01T12:00:00Z",
                "labels": { "owner": "helm", "status": "deployed" },
                "finalizers": ["example.com/keep"],
                "ownerReferences": [{
                    "kind": "Deployment", "name": "web", "uid": "u-1", "apiVersion": "apps/v1", "controller": true
                }],
                "managedFields": [{
                    "manager": "helm",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2026-01-01T12:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": { "f:data": { ".": {} } }
                }]
            },
            "data": { "release": base64::engine::general_purpose::STANDARD.encode(b"\x1f\x8b binary") },
            "type": "helm.sh/release.v1"
        })
    );
}

#[test]
fn decodes_config_maps_namespaces_and_delete_options() {
    let config_map = Message::default()
        .message(1, Message::default().string(1, "settings"))
        .entry(2, "greeting", b"hello")
        .entry(3, "blob", &[0, 1, 2])
        .varint(4, 1);
    assert_eq!(
        decode(&envelope("v1", "ConfigMap", config_map)).unwrap(),
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": { "name": "settings" },
            "data": { "greeting": "hello" },
            "binaryData": { "blob": "AAEC" },
            "immutable": true
        })
    );

    let namespace = Message::default()
        .message(1, Message::default().string(1, "helm-proof"))
        .message(2, Message::default().string(1, "kubernetes"));
    assert_eq!(
        decode(&envelope("v1", "Namespace", namespace)).unwrap(),
        json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": { "name": "helm-proof" },
            "spec": { "finalizers": ["kubernetes"] }
        })
    );

    let options = Message::default()
        .varint(1, 0)
        .message(2, Message::default().string(1, "u-1").string(2, "7"))
        .string(4, "Foreground")
        .string(5, "All");
    assert_eq!(
        decode(&envelope("apps/v1", "DeleteOptions", options)).unwrap(),
        json!({
            "apiVersion": "apps/v1", "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "preconditions": { "uid": "u-1", "resourceVersion": "7" },
            "propagationPolicy": "Foreground",
            "dryRun": ["All"]
        })
    );
}

#[test]
fn skips_fields_it_does_not_know() {
    let secret = Message::default()
        .message(
            1,
            Message::default().string(1, "s").string(99, "future field"),
        )
        .varint(42, 7)
        .fixed64(43)
        .string(3, "Opaque");
    assert_eq!(
        decode(&envelope("v1", "Secret", secret)).unwrap(),
        json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "s" }, "type": "Opaque" })
    );
}

#[test]
fn refuses_what_it_cannot_read() {
    assert_eq!(
        decode(b"{\"kind\":\"Secret\"}"),
        Err(ProtobufError::NoEnvelope)
    );
    let widget = envelope("example.com/v1", "Widget", Message::default());
    assert!(
        matches!(decode(&widget), Err(ProtobufError::UnsupportedKind { kind, .. }) if kind == "Widget")
    );
    let mut truncated = envelope("v1", "Secret", Message::default().message(1, metadata()));
    truncated.truncate(truncated.len() - 5);
    assert_eq!(decode(&truncated), Err(ProtobufError::Malformed));
    let wrong_wire_type = Message::default().varint(1, 5);
    assert_eq!(
        decode(&envelope("v1", "Secret", wrong_wire_type)),
        Err(ProtobufError::Malformed)
    );
}

/// What `kubectl create deployment web --image=nginx --replicas=0` sends:
/// empty non-pointer strings and a zero time are left out as Go's JSON
/// would, an explicit zero (a pointer field) is kept, intstr and quantities
/// become scalars.
#[test]
fn decodes_a_deployment_like_go_json() {
    let container = Message::default()
        .string(1, "nginx")
        .string(2, "nginx")
        .message(
            8,
            Message::default().entry(1, "cpu", &Message::default().string(1, "100m").0),
        )
        .string(14, "");
    let template = Message::default()
        .message(
            1,
            Message::default()
                .entry(11, "app", b"web")
                .message(8, Message::default().varint(1, (-62_135_596_800i64) as u64)),
        )
        .message(2, Message::default().message(2, container));
    let strategy = Message::default().string(1, "RollingUpdate").message(
        2,
        Message::default().message(1, Message::default().varint(1, 1).string(3, "25%")),
    );
    let spec = Message::default()
        .varint(1, 0)
        .message(2, Message::default().entry(1, "app", b"web"))
        .message(3, template)
        .message(4, strategy);
    let deployment = Message::default()
        .message(1, Message::default().string(1, "web").string(2, ""))
        .message(2, spec)
        .message(3, Message::default());
    assert_eq!(
        decode(&envelope("apps/v1", "Deployment", deployment)).unwrap(),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "web" },
            "spec": {
                "replicas": 0,
                "selector": { "matchLabels": { "app": "web" } },
                "template": {
                    "metadata": { "labels": { "app": "web" } },
                    "spec": { "containers": [{
                        "name": "nginx", "image": "nginx",
                        "resources": { "limits": { "cpu": "100m" } }
                    }] }
                },
                "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": "25%" } }
            },
            "status": {}
        })
    );
}

#[test]
fn go_durations() {
    assert_eq!(go_duration(0), "0s");
    assert_eq!(go_duration(1_500_000), "1.5ms");
    assert_eq!(go_duration(90_000_000_000), "1m30s");
    assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
}
