#!/usr/bin/env python3
"""Generate src/builtin/generated.rs: the merge-relevant shape of built-in Kubernetes kinds.

Reads the Go API type definitions (k8s.io/api, k8s.io/apimachinery meta/v1,
k8s.io/apiextensions-apiserver apiextensions/v1) and records, per struct type, each
field's JSON name, its type, the server-side-apply markers (+listType, +listMapKey,
+mapType, +structType, +default) and the strategic-merge struct tags
(patchStrategy, patchMergeKey). Nothing else from the sources is carried over.

Usage: gen_builtin_types.py SRC_ROOT > src/builtin/generated.rs
where SRC_ROOT holds one directory per package, e.g. SRC_ROOT/core/v1/*.go,
SRC_ROOT/meta/v1/*.go, SRC_ROOT/apiextensions/v1/*.go.
"""

import os
import re
import sys

# Package directory -> apiVersion served for its kinds (None: types only, no kinds).
PACKAGES = {
    "core/v1": "v1",
    "apps/v1": "apps/v1",
    "batch/v1": "batch/v1",
    "rbac/v1": "rbac.authorization.k8s.io/v1",
    "networking/v1": "networking.k8s.io/v1",
    "policy/v1": "policy/v1",
    "scheduling/v1": "scheduling.k8s.io/v1",
    "coordination/v1": "coordination.k8s.io/v1",
    "events/v1": "events.k8s.io/v1",
    "storage/v1": "storage.k8s.io/v1",
    "autoscaling/v2": "autoscaling/v2",
    "discovery/v1": "discovery.k8s.io/v1",
    "apiextensions/v1": "apiextensions.k8s.io/v1",
    "meta/v1": None,
}

# Go import paths -> package directory above.
IMPORTS = {
    "k8s.io/api/core/v1": "core/v1",
    "k8s.io/api/apps/v1": "apps/v1",
    "k8s.io/api/batch/v1": "batch/v1",
    "k8s.io/api/rbac/v1": "rbac/v1",
    "k8s.io/api/networking/v1": "networking/v1",
    "k8s.io/api/policy/v1": "policy/v1",
    "k8s.io/api/scheduling/v1": "scheduling/v1",
    "k8s.io/api/coordination/v1": "coordination/v1",
    "k8s.io/api/events/v1": "events/v1",
    "k8s.io/api/storage/v1": "storage/v1",
    "k8s.io/api/autoscaling/v2": "autoscaling/v2",
    "k8s.io/api/discovery/v1": "discovery/v1",
    "k8s.io/apimachinery/pkg/apis/meta/v1": "meta/v1",
}

# Types with custom JSON encodings: scalars on the wire, or free-form JSON.
SCALAR_TYPES = {
    "meta/v1.Time", "meta/v1.MicroTime", "meta/v1.Duration", "resource.Quantity",
    "intstr.IntOrString", "types.UID", "types.NodeName",
}
UNTYPED_TYPES = {
    "runtime.RawExtension", "meta/v1.FieldsV1", "apiextensions/v1.JSON",
    "apiextensions/v1.JSONSchemaPropsOrArray", "apiextensions/v1.JSONSchemaPropsOrBool",
    "apiextensions/v1.JSONSchemaPropsOrStringArray",
}
GO_SCALARS = {
    "string", "bool", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16",
    "uint32", "uint64", "float32", "float64", "byte",
}

TYPE_RE = re.compile(r"^type\s+(\w+)\s+(.*)$")
FIELD_RE = re.compile(r"^\s+(?:(\w+)\s+)?([\w\.\*\[\]]+(?:\[[\w\.\*]+\][\w\.\*\[\]]+)?)\s*(`[^`]*`)?\s*(//.*)?$")
IMPORT_RE = re.compile(r'^\s*(?:(\w+)\s+)?"([^"]+)"')


def tag_value(tag, name):
    m = re.search(name + r':"([^"]*)"', tag or "")
    return m.group(1) if m else None


def markers(comments, name):
    out = []
    for c in comments:
        m = re.match(r"//\s*\+" + re.escape(name) + r"=(.*)$", c.strip())
        if m:
            out.append(m.group(1).strip())
    return out


class Package:
    def __init__(self, name):
        self.name = name
        self.types = {}  # name -> dict

    def parse_file(self, path):
        imports = {}
        lines = open(path, encoding="utf-8").read().split("\n")
        comments = []
        i = 0
        in_import = False
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if stripped.startswith("import ("):
                in_import = True
            elif in_import:
                if stripped == ")":
                    in_import = False
                else:
                    m = IMPORT_RE.match(line)
                    if m:
                        alias = m.group(1) or m.group(2).rsplit("/", 1)[-1]
                        imports[alias] = m.group(2)
            elif stripped.startswith("import \""):
                m = IMPORT_RE.match(stripped[len("import "):])
                if m:
                    imports[m.group(1) or m.group(2).rsplit("/", 1)[-1]] = m.group(2)
            elif stripped.startswith("//"):
                comments.append(stripped)
                i += 1
                continue
            else:
                m = TYPE_RE.match(line)
                if m:
                    name, rest = m.group(1), m.group(2).strip()
                    if rest.startswith("struct {") and rest.endswith("{"):
                        fields, i = self.parse_struct(lines, i + 1, imports)
                        self.types[name] = {
                            "kind": "struct",
                            "atomic": "atomic" in markers(comments, "structType"),
                            "fields": fields,
                        }
                    elif rest.startswith("struct{}"):
                        self.types[name] = {"kind": "struct", "atomic": False, "fields": []}
                    else:
                        self.types[name] = {
                            "kind": "alias",
                            "type": self.resolve(rest.split("//")[0].strip(), imports),
                            "atomic_map": "atomic" in markers(comments, "mapType"),
                        }
            comments = []
            i += 1

    def parse_struct(self, lines, i, imports):
        fields = []
        comments = []
        while not lines[i].startswith("}"):
            stripped = lines[i].strip()
            if stripped.startswith("//"):
                comments.append(stripped)
            elif stripped:
                m = FIELD_RE.match(lines[i])
                if m:
                    go_name, go_type, tag = m.group(1), m.group(2), m.group(3)
                    json_tag = tag_value(tag, "json")
                    json_name = json_tag.split(",")[0] if json_tag is not None else None
                    omitted_when_empty = json_tag is not None and (
                        "omitempty" in json_tag.split(",")[1:] or "omitzero" in json_tag.split(",")[1:])
                    if json_name != "-":
                        fields.append({
                            "json": json_name or "",
                            "inline": go_name is None and not json_name,
                            "type": self.resolve(go_type, imports),
                            "by_value": not go_type.startswith(("*", "[]", "map[")),
                            "omitempty": omitted_when_empty,
                            "patch_strategy": tag_value(tag, "patchStrategy") or "",
                            "merge_key": tag_value(tag, "patchMergeKey"),
                            "list_type": (markers(comments, "listType") or [None])[-1],
                            "list_keys": markers(comments, "listMapKey"),
                            "map_type": (markers(comments, "mapType") or [None])[-1],
                            "default": (markers(comments, "default") or [None])[-1],
                        })
                comments = []
            else:
                comments = []
            i += 1
        return fields, i

    def resolve(self, go_type, imports):
        """Go type expression -> ('list', elem) | ('map', elem) | ('named', id) | ('scalar',)."""
        t = go_type.strip()
        while t.startswith("*"):
            t = t[1:]
        if t == "[]byte":
            return ("scalar",)
        if t.startswith("[]"):
            return ("list", self.resolve(t[2:], imports))
        if t.startswith("map["):
            depth, j = 0, 3
            while True:
                if t[j] == "[":
                    depth += 1
                elif t[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            return ("map", self.resolve(t[j + 1:], imports))
        if t in GO_SCALARS:
            return ("scalar",)
        if "." in t:
            alias, name = t.split(".", 1)
            pkg = IMPORTS.get(imports.get(alias, ""), alias)
            return ("named", pkg + "." + name)
        return ("named", self.name + "." + t)


def load(root):
    packages = {}
    for name in PACKAGES:
        pkg = Package(name)
        directory = os.path.join(root, name)
        for f in sorted(os.listdir(directory)):
            if f.endswith(".go"):
                pkg.parse_file(os.path.join(directory, f))
        packages[name] = pkg
    return packages


class Emitter:
    def __init__(self, packages):
        self.packages = packages
        self.ids = {}
        self.order = []

    def lookup(self, type_id):
        pkg, name = type_id.split(".", 1)
        return self.packages.get(pkg, Package(pkg)).types.get(name)

    def type_index(self, type_id):
        if type_id not in self.ids:
            self.ids[type_id] = len(self.order)
            self.order.append(type_id)
        return self.ids[type_id]

    def ty(self, t, field=None):
        """Rust `Ty` expression for a resolved type."""
        kind = t[0]
        if kind == "scalar":
            return "Ty::Scalar"
        if kind == "list":
            elem = self.ty(t[1])
            list_type = (field or {}).get("list_type")
            keys = (field or {}).get("list_keys") or []
            strategy = (field or {}).get("patch_strategy", "")
            merge_key = (field or {}).get("merge_key")
            if list_type is None:
                # Upstream's openapi -> schema conversion: patch strategy merge with a key is
                # a map list, without a key a set; anything else is atomic.
                if "merge" in strategy.split(","):
                    list_type, keys = ("map", [merge_key]) if merge_key else ("set", [])
                else:
                    list_type = "atomic"
            ssa = {
                "atomic": "SsaList::Atomic",
                "set": "SsaList::Set",
                "map": "SsaList::Map(&[%s])" % ", ".join('"%s"' % k for k in keys),
            }[list_type]
            return "Ty::List(&ListTy { elem: %s, ssa: %s, smp: %s })" % (
                elem, ssa, self.smp(strategy, merge_key))
        if kind == "map":
            atomic = (field or {}).get("map_type") == "atomic"
            return "Ty::Map(&MapTy { value: %s, atomic: %s })" % (self.ty(t[1]), str(atomic).lower())
        type_id = t[1]
        if type_id in SCALAR_TYPES:
            return "Ty::Scalar"
        if type_id in UNTYPED_TYPES:
            return "Ty::Untyped"
        definition = self.lookup(type_id)
        if definition is None:
            return "Ty::Untyped"
        if definition["kind"] == "alias":
            inner = definition["type"]
            if inner[0] == "map" and definition.get("atomic_map"):
                return "Ty::Map(&MapTy { value: %s, atomic: true })" % self.ty(inner[1])
            return self.ty(inner, field)
        return "Ty::Struct(%d)" % self.type_index(type_id)

    def zero(self, field):
        """What Go's encoding/json writes for the field of a zero parent: a struct held by
        value is always written (`{}` at least), any other field without omitempty as its
        zero value, which a diff treats like null."""
        t = field["type"]
        if field["by_value"] and t[0] == "named" and t[1] not in SCALAR_TYPES | UNTYPED_TYPES:
            definition = self.lookup(t[1])
            if definition is not None and definition["kind"] == "struct":
                return "Some(ZeroValue::EmptyObject)"
        if not field["omitempty"]:
            return "Some(ZeroValue::Null)"
        return "None"

    @staticmethod
    def smp(strategy, merge_key):
        parts = [p for p in strategy.split(",") if p]
        merge = "merge" in parts
        if merge and merge_key:
            return 'Smp::MergeByKey("%s")' % merge_key
        if merge:
            return "Smp::MergePrimitives"
        return "Smp::Replace"

    def flatten(self, type_id, seen=()):
        """Fields of a struct with inline (embedded) structs expanded."""
        out = []
        for f in self.lookup(type_id)["fields"]:
            if f["inline"] or f["json"] == "":
                inner = f["type"]
                if inner[0] == "named" and self.lookup(inner[1]) and self.lookup(inner[1])["kind"] == "struct":
                    out.extend(self.flatten(inner[1], seen + (type_id,)))
                continue
            out.append(f)
        return out

    def emit(self, kinds):
        kind_rows = []
        for pkg, api_version in PACKAGES.items():
            if api_version is None:
                continue
            for name in sorted(self.packages[pkg].types):
                definition = self.packages[pkg].types[name]
                if definition["kind"] != "struct":
                    continue
                field_names = {f["json"] for f in self.flatten(pkg + "." + name)}
                if {"apiVersion", "kind", "metadata"} <= field_names and not name.endswith("List"):
                    kind_rows.append((api_version, name, self.type_index(pkg + "." + name)))
        structs = []
        i = 0
        while i < len(self.order):
            type_id = self.order[i]
            definition = self.lookup(type_id)
            fields = []
            for f in sorted(self.flatten(type_id), key=lambda f: f["json"]):
                default = f["default"]
                if default is not None and not re.match(r'^(".*"|-?\d+|true|false)$', default):
                    default = None
                fields.append('Field { name: "%s", ty: %s, zero: %s, default: %s }' % (
                    f["json"], self.ty(f["type"], f), self.zero(f),
                    "Some(%s)" % rust_str(default) if default else "None"))
            structs.append('    StructTy { name: "%s", atomic: %s, fields: &[\n        %s,\n    ] },' % (
                type_id, str(definition["atomic"]).lower(), ",\n        ".join(fields) if fields else ""))
            i += 1
        print("// @generated by tools/gen_builtin_types.py from the Kubernetes Go API types; do not edit.")
        print("// Sources: k8s.io/api, k8s.io/apimachinery pkg/apis/meta/v1, k8s.io/apiextensions-apiserver.")
        print("#![allow(clippy::all)]")
        print("use super::table::{Field, ListTy, MapTy, Smp, SsaList, StructTy, Ty};")
        print("use crate::types::ZeroValue;")
        print("/// Every struct type reachable from a served kind; `Ty::Struct(i)` indexes this table.")
        print("pub(super) static STRUCTS: &[StructTy] = &[")
        print("\n".join(s.replace("fields: &[\n        ,\n    ]", "fields: &[]") for s in structs))
        print("];\n")
        print("/// (apiVersion, kind, index into STRUCTS) for every served kind.")
        print("pub(super) static KINDS: &[(&str, &str, usize)] = &[")
        for api_version, name, idx in kind_rows:
            print('    ("%s", "%s", %d),' % (api_version, name, idx))
        print("];")


def rust_str(go_literal):
    return "r#\"%s\"#" % go_literal


def main():
    packages = load(sys.argv[1])
    Emitter(packages).emit(PACKAGES)


if __name__ == "__main__":
    main()
