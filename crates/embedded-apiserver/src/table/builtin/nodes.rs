//! Nodes, after `printNode` in kube-apiserver's
//! `pkg/printers/internalversion/printers.go`.

use super::{AGE, Column, NAME_COLUMN, Printer, Row, age_of, decode, name};
use k8s_openapi::api::core::v1::Node;
use std::collections::BTreeSet;

const ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";

pub(in crate::table) static NODE: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Status", "string", "The status of the node"),
        Column::new("Roles", "string", "The roles of the node"),
        AGE,
        Column::new("Version", "string", "Kubelet Version reported by the node."),
        Column::new("Internal-IP", "string", ADDRESSES).wide(),
        Column::new("External-IP", "string", ADDRESSES).wide(),
        Column::new("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).").wide(),
        Column::new("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).").wide(),
        Column::new("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).").wide(),
    ],
    row: |object, now| {
        let node: Node = decode(object)?;
        let status = node.status.clone().unwrap_or_default();
        let spec = node.spec.clone().unwrap_or_default();
        let mut states: Vec<String> = status
            .conditions
            .iter()
            .flatten()
            .filter(|c| c.type_ == "Ready")
            .map(|c| if c.status == "True" { "Ready".to_owned() } else { "NotReady".to_owned() })
            .take(1)
            .collect();
        if states.is_empty() {
            states.push("Unknown".into());
        }
        if spec.unschedulable == Some(true) {
            states.push("SchedulingDisabled".into());
        }
        // `findNodeRoles`: node-role.kubernetes.io/<role> labels and kubernetes.io/role.
        let roles: BTreeSet<String> = node
            .metadata
            .labels
            .iter()
            .flatten()
            .filter_map(|(key, value)| {
                if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
                    (!role.is_empty()).then(|| role.to_owned())
                } else if key == "kubernetes.io/role" && !value.is_empty() {
                    Some(value.clone())
                } else {
                    None
                }
            })
            .collect();
        let roles = if roles.is_empty() {
            "<none>".to_owned()
        } else {
            roles.into_iter().collect::<Vec<_>>().join(",")
        };
        let address = |kind: &str| {
            status
                .addresses
                .iter()
                .flatten()
                .find(|a| a.type_ == kind)
                .map_or_else(|| "<none>".to_owned(), |a| a.address.clone())
        };
        let info = status.node_info.clone().unwrap_or_default();
        let known = |value: &str| {
            if value.is_empty() { "<unknown>".to_owned() } else { value.to_owned() }
        };
        Some(Row::new(vec![
            name(&node.metadata),
            states.join(",").into(),
            roles.into(),
            age_of(&node.metadata, now),
            info.kubelet_version.clone().into(),
            address("InternalIP").into(),
            address("ExternalIP").into(),
            known(&info.os_image).into(),
            known(&info.kernel_version).into(),
            known(&info.container_runtime_version).into(),
        ]))
    },
};
