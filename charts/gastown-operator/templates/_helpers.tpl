{{/* Chart name, overridable. */}}
{{- define "gastown-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: the release name when it already contains the chart
name, else "<release>-<chart>"; at most 63 characters (a DNS label).
*/}}
{{- define "gastown-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gastown-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object of the release. */}}
{{- define "gastown-operator.labels" -}}
helm.sh/chart: {{ include "gastown-operator.chart" . }}
{{ include "gastown-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the operator pods. Deliberately not app.kubernetes.io/name=gastown (the
label of the towns' own objects), so no town selector ever matches the operator.
*/}}
{{- define "gastown-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gastown-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gastown-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gastown-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gastown-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
"true" when leader election runs: asked for, or forced because more than one replica would
otherwise run the controllers at once.
*/}}
{{- define "gastown-operator.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{ else }}false{{ end }}
{{- end }}

{{- define "gastown-operator.leaseName" -}}
{{- default (include "gastown-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
The watched namespaces, sorted and without duplicates or blanks (the operator normalises
its --namespaces the same way).
*/}}
{{- define "gastown-operator.watchNamespaces" -}}
{{- $namespaces := list }}
{{- range .Values.watchNamespaces }}
{{- if trim . }}
{{- $namespaces = append $namespaces (trim .) }}
{{- end }}
{{- end }}
{{- $namespaces | uniq | sortAlpha | join "," }}
{{- end }}

{{/*
What the operator does inside a namespace it manages, derived from its code
(crates/gastown-operator/src: cache.rs watches, controllers/*.rs and apply.rs write,
context.rs reads the daemon token, kube-runtime's Recorder writes events). Used by the
ClusterRole when every namespace is watched, by one Role per namespace otherwise.

Verbs follow from the requests:
- a watch is a list followed by a watch;
- every write is a server-side apply (PATCH), which creates the object when it is missing;
  kube-apiserver then also authorizes "create" (apiserver/pkg/endpoints/handlers/patch.go),
  so an applied kind needs both;
- status goes through the status subresource (PATCH);
- the finalizer helper adds and removes finalizers with a JSON patch (PATCH).
*/}}
{{- define "gastown-operator.namespacedRules" -}}
# GasTowns: watched; users create and delete them, the operator only adds and removes its
# finalizer (patch).
- apiGroups: ["gastown.io"]
  resources: ["gastowns"]
  verbs: ["list", "watch", "patch"]
# Rigs (one per spec.rigs[] of a town) and AgentPools (each rig's polecat pool): watched,
# applied, deleted when they leave the spec or their town goes.
- apiGroups: ["gastown.io"]
  resources: ["rigs", "agentpools"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["gastown.io"]
  resources: ["gastowns/status", "rigs/status", "agentpools/status"]
  verbs: ["patch"]
# No update of gastowns/finalizers or rigs/finalizers: the operator's owner references never
# set blockOwnerDeletion (its own finalizers order the teardown), so the
# OwnerReferencesPermissionEnforcement admission plugin (OpenShift) asks for nothing more.
# Agent pods (mayor, deacon, witness, refinery, crew, polecats): watched by label, created by
# apply, annotated as overtime (patch), deleted when beads says they are done.
# get: the Role made for each rig's agents grants get/list/watch on pods, and RBAC lets
# nobody grant what they do not hold (escalation check).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Never read by the operator: held only because each rig's agent Role grants exactly this.
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get", "list", "watch"]
# Services of dolt, the bd daemon and the RPC server; the latter two are removed when disabled
# or when the daemon is external.
- apiGroups: [""]
  resources: ["services"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# Dolt's config, the rigs' agent ServiceAccounts and polecat ResourceQuotas: applied, removed by
# the garbage collector through their owner references.
- apiGroups: [""]
  resources: ["configmaps", "serviceaccounts", "resourcequotas"]
  verbs: ["list", "watch", "create", "patch"]
# Rig workspaces and crew volumes: applied, deleted per the rig's reclaimPolicy.
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# Referenced Secrets: watched as metadata (does it exist, did it change); get reads the bd
# daemon token (spec.daemon.tokenSecretRef). Values are never cached, logged or written.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
# Dolt (StatefulSet), the bd daemon and the RPC server (Deployments): applied, deleted last
# in the drain-order teardown.
- apiGroups: ["apps"]
  resources: ["statefulsets", "deployments"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# Dolt's backup CronJob (spec.dolt.backup): applied, removed when the spec drops it, and
# deleted after dolt in the drain-order teardown.
- apiGroups: ["batch"]
  resources: ["cronjobs"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# Its Jobs: watched (the backup status reads how they ended); created for an on-demand
# backup (annotation gastown.io/backup-now). The CronJob's history limits delete them.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["list", "watch", "create"]
# Each rig's agent Role and RoleBinding: applied, garbage-collected with the rig.
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["list", "watch", "create", "patch"]
# Each rig's agent NetworkPolicy: applied, deleted when the rig no longer wants one.
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# spec.secrets.externalSecrets: ExternalSecret objects of the external-secrets operator,
# listed by label, applied, deleted when no longer declared (only where that kind is served).
- apiGroups: ["external-secrets.io"]
  resources: ["externalsecrets"]
  verbs: ["list", "create", "patch", "delete"]
# Events on towns, rigs and pools (kube-runtime's Recorder creates them and patches a
# repeated one into a series).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* What must be cluster-wide whatever namespaces are watched. */}}
{{- define "gastown-operator.clusterRules" -}}
# Each rig's polecat PriorityClass (PriorityClasses are cluster-scoped): watched by label,
# applied, deleted by the rig's finalizer.
- apiGroups: ["scheduling.k8s.io"]
  resources: ["priorityclasses"]
  verbs: ["list", "watch", "create", "patch", "delete"]
{{- end }}
