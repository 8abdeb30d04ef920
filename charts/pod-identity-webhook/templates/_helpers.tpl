{{/* The chart name, or nameOverride. */}}
{{- define "pod-identity-webhook.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The name of the Deployment, Service, ClusterRole, MutatingWebhookConfiguration, ...: the release
name when it already contains the chart name, else <release>-<chart>. At most 63 characters (a
Service name).
*/}}
{{- define "pod-identity-webhook.fullname" -}}
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

{{- define "pod-identity-webhook.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object: the chart's, then commonLabels (which cannot replace them). */}}
{{- define "pod-identity-webhook.labels" -}}
{{- $labels := dict
  "helm.sh/chart" (include "pod-identity-webhook.chart" .)
  "app.kubernetes.io/version" (include "pod-identity-webhook.imageTag" . | trunc 63 | trimSuffix "-")
  "app.kubernetes.io/component" "webhook"
  "app.kubernetes.io/part-of" "pod-identity-webhook"
  "app.kubernetes.io/managed-by" .Release.Service }}
{{- toYaml (merge $labels (include "pod-identity-webhook.selectorLabels" . | fromYaml) (deepCopy .Values.commonLabels)) }}
{{- end }}

{{/* The Deployment's selector and the Service's: never change between releases. */}}
{{- define "pod-identity-webhook.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pod-identity-webhook.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The label that keeps Pods (and namespaces) away from the webhook: the objectSelector always
requires it to be absent. The Go webhook's name, whatever --annotation-prefix says. The webhook's
own Pods carry it, so the webhook is never called for its own replicas.
*/}}
{{- define "pod-identity-webhook.skipLabel" -}}
eks.amazonaws.com/skip-pod-identity-webhook
{{- end }}

{{- define "pod-identity-webhook.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pod-identity-webhook.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "pod-identity-webhook.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "pod-identity-webhook.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "pod-identity-webhook.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
The Secret the serving certificate lives in: <fullname>-tls in builtin and helm modes (the same
Secret, so the two modes can be switched in place), <fullname>-cert-manager-tls in certManager mode
(cert-manager keeps its Secret when its Certificate is deleted; a name of its own never collides
with the other modes' Secret), the user's in existingSecret mode.
*/}}
{{- define "pod-identity-webhook.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "certManager" }}
{{- printf "%s-cert-manager-tls" (include "pod-identity-webhook.fullname" .) }}
{{- else if eq .Values.certificates.mode "existingSecret" }}
{{- required "certificates.existingSecret.name is required when certificates.mode is existingSecret: the name of a Secret in the release namespace with tls.crt and tls.key" .Values.certificates.existingSecret.name }}
{{- else }}
{{- printf "%s-tls" (include "pod-identity-webhook.fullname" .) }}
{{- end }}
{{- end }}

{{/* The MutatingWebhookConfiguration's name; the webhook is told it in builtin mode. */}}
{{- define "pod-identity-webhook.webhookConfigurationName" -}}
{{- include "pod-identity-webhook.fullname" . }}
{{- end }}

{{/* The Service's DNS names, as a list (the serving certificate names all of them). */}}
{{- define "pod-identity-webhook.serviceDNSNames" -}}
{{- $svc := include "pod-identity-webhook.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{/* True (non-empty) in the modes where the certificate is a mounted Secret. */}}
{{- define "pod-identity-webhook.mountsCertificate" -}}
{{- if ne .Values.certificates.mode "builtin" }}true{{ end }}
{{- end }}

{{/* The container's HTTPS and metrics ports: the node's under hostNetwork. */}}
{{- define "pod-identity-webhook.port" -}}
{{- if .Values.hostNetwork.enabled }}{{ .Values.hostNetwork.port }}{{ else }}{{ .Values.config.port }}{{ end }}
{{- end }}
{{- define "pod-identity-webhook.metricsPort" -}}
{{- if .Values.hostNetwork.enabled }}{{ .Values.hostNetwork.metricsPort }}{{ else }}{{ .Values.config.metricsPort }}{{ end }}
{{- end }}

{{/* Where a mounted certificate is read. */}}
{{- define "pod-identity-webhook.certDir" -}}
/etc/webhook/certs
{{- end }}

{{/* The Prometheus label matchers selecting the webhook's series. */}}
{{- define "pod-identity-webhook.metricsSelector" -}}
{{- .Values.metrics.prometheusRule.selector | default (printf "job=%q, namespace=%q" (include "pod-identity-webhook.fullname" .) .Release.Namespace) }}
{{- end }}

{{/*
Checks that the schema cannot express, with messages that say what to do. Included by the
Deployment, so every render runs them.
*/}}
{{- define "pod-identity-webhook.validate" -}}
{{- $c := .Values.certificates }}
{{- if eq $c.mode "existingSecret" }}
{{- if not $c.existingSecret.name }}
{{- fail "certificates.existingSecret.name is required when certificates.mode is existingSecret: the name of a Secret in the release namespace with tls.crt and tls.key" }}
{{- end }}
{{- if not $c.existingSecret.caBundle }}
{{- fail "certificates.existingSecret.caBundle is required when certificates.mode is existingSecret: the base64-encoded PEM of the CA that signed the Secret's tls.crt (e.g. --set certificates.existingSecret.caBundle=$(base64 -w0 ca.crt))" }}
{{- end }}
{{- if not (contains "-----BEGIN CERTIFICATE-----" (b64dec $c.existingSecret.caBundle)) }}
{{- fail "certificates.existingSecret.caBundle must be base64 of a PEM certificate (-----BEGIN CERTIFICATE-----...); encode the CA file with base64 -w0 ca.crt" }}
{{- end }}
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and $pdb.enabled (not (kindIs "invalid" $pdb.minAvailable)) }}
{{- if and (not (kindIs "string" $pdb.minAvailable)) (ge (int $pdb.minAvailable) (int .Values.replicaCount)) }}
{{- fail (printf "podDisruptionBudget.minAvailable (%d) must be below replicaCount (%d), or no node could ever be drained; use maxUnavailable: 1 instead" (int $pdb.minAvailable) (int .Values.replicaCount)) }}
{{- end }}
{{- end }}
{{- if and $pdb.enabled (kindIs "invalid" $pdb.minAvailable) (kindIs "invalid" $pdb.maxUnavailable) }}
{{- fail "podDisruptionBudget: set maxUnavailable or minAvailable (or enabled: false)" }}
{{- end }}
{{- if and .Values.hostNetwork.enabled (eq (int .Values.hostNetwork.port) (int .Values.hostNetwork.metricsPort)) }}
{{- fail "hostNetwork.port and hostNetwork.metricsPort must differ" }}
{{- end }}
{{- if and (not .Values.hostNetwork.enabled) (eq (int .Values.config.port) (int .Values.config.metricsPort)) }}
{{- fail "config.port and config.metricsPort must differ" }}
{{- end }}
{{- end }}

{{/* Where the container-credentials ConfigMap is mounted (EKS Pod Identity). */}}
{{- define "pod-identity-webhook.containerCredentialsDir" -}}
/etc/pod-identity-webhook/container-credentials
{{- end }}

{{/* The container-credentials ConfigMap: the existing one, or the one the chart renders. */}}
{{- define "pod-identity-webhook.containerCredentialsConfigMap" -}}
{{- .Values.config.containerCredentials.existingConfigMap | default (printf "%s-container-credentials" (include "pod-identity-webhook.fullname" .)) }}
{{- end }}

{{/* The container's arguments: `serve` and every flag (see the README's flag tables). */}}
{{- define "pod-identity-webhook.args" -}}
{{- $cfg := .Values.config }}
{{- $fullname := include "pod-identity-webhook.fullname" . -}}
- serve
- {{ printf "--port=%s" (include "pod-identity-webhook.port" .) | quote }}
- {{ printf "--metrics-port=%s" (include "pod-identity-webhook.metricsPort" .) | quote }}
- {{ printf "--annotation-prefix=%s" $cfg.annotationPrefix | quote }}
- {{ printf "--token-audience=%s" $cfg.tokenAudience | quote }}
- {{ printf "--token-mount-path=%s" $cfg.tokenMountPath | quote }}
- {{ printf "--token-expiration=%d" (int64 $cfg.tokenExpiration) | quote }}
{{- with $cfg.awsDefaultRegion }}
- {{ printf "--aws-default-region=%s" . | quote }}
{{- end }}
- {{ printf "--sts-regional-endpoint=%t" $cfg.stsRegionalEndpoint | quote }}
{{- with $cfg.stsEndpoint }}
- {{ printf "--sts-endpoint=%s" . | quote }}
{{- end }}
- {{ printf "--min-token-expiration=%d" (int64 $cfg.minTokenExpiration) | quote }}
- {{ printf "--max-token-expiration=%d" (int64 $cfg.maxTokenExpiration) | quote }}
{{- if not (kindIs "invalid" $cfg.fsGroup) }}
- {{ printf "--fs-group=%d" (int64 $cfg.fsGroup) | quote }}
{{- end }}
- {{ printf "--role-session-name-from-pod=%t" $cfg.roleSessionNameFromPod | quote }}
- {{ printf "--region-without-role=%t" $cfg.regionWithoutRole | quote }}
- {{ printf "--allow-pod-role-arn=%t" $cfg.allowPodRoleArn | quote }}
- {{ printf "--compose-role-arn=%t" $cfg.composeRoleArn | quote }}
{{- with $cfg.awsAccountId }}
- {{ printf "--aws-account-id=%s" . | quote }}
{{- end }}
{{- with $cfg.containerCredentials }}
{{- if .enabled }}
- {{ printf "--watch-container-credentials-config=%s/config.json" (include "pod-identity-webhook.containerCredentialsDir" $) | quote }}
- {{ printf "--container-credentials-audience=%s" .audience | quote }}
- {{ printf "--container-credentials-token-mount-path=%s" .tokenMountPath | quote }}
- {{ printf "--container-credentials-token-volume-name=%s" .tokenVolumeName | quote }}
- {{ printf "--container-credentials-token-path=%s" .tokenPath | quote }}
- {{ printf "--container-credentials-full-uri=%s" .fullUri | quote }}
{{- end }}
{{- end }}
- {{ printf "--watch-config-map=%t" $cfg.watchConfigMap | quote }}
- {{ printf "--log-level=%s" $cfg.logLevel | quote }}
- {{ printf "--service-account-lookup-grace-period=%s" $cfg.serviceAccountLookupGracePeriod | quote }}
- {{ printf "--shutdown-delay=%s" $cfg.shutdownDelay | quote }}
- {{ printf "--tls-min-version=%s" $cfg.tlsMinVersion | quote }}
{{- if eq .Values.certificates.mode "builtin" }}
{{- $b := .Values.certificates.builtin }}
- "--certificates=builtin"
- {{ printf "--tls-secret=%s" (include "pod-identity-webhook.tlsSecretName" .) | quote }}
- {{ printf "--namespace=%s" .Release.Namespace | quote }}
- {{ printf "--service-name=%s" $fullname | quote }}
- {{ printf "--webhook-configuration=%s" (include "pod-identity-webhook.webhookConfigurationName" .) | quote }}
- {{ printf "--ca-validity=%s" $b.caValidity | quote }}
- {{ printf "--certificate-validity=%s" $b.certificateValidity | quote }}
{{- with $b.extraHosts }}
- {{ printf "--certificate-hosts=%s" (join "," .) | quote }}
{{- end }}
{{- else }}
- {{ printf "--tls-cert=%s/tls.crt" (include "pod-identity-webhook.certDir" .) | quote }}
- {{ printf "--tls-key=%s/tls.key" (include "pod-identity-webhook.certDir" .) | quote }}
{{- end }}
{{- range $cfg.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}
