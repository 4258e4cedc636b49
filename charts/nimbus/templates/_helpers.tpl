{{/* The release's name for its objects: the release name, or <release>-nimbus. */}}
{{- define "nimbus.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nimbus.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nimbus.labels" -}}
{{ include "nimbus.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "nimbus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nimbus.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "nimbus.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* The webhook's certificate: cert-manager's Certificate, for its CA injector. */}}
{{- define "nimbus.webhookCertificate" -}}
{{ .Release.Namespace }}/{{ include "nimbus.fullname" . }}-webhook
{{- end -}}

{{/*
The webhook's serving certificate, without cert-manager: a CA and a certificate generated
once and kept in the Secret across upgrades (looked up), so that the caBundle stays valid.
Made once per render (kept aside in .Values), as YAML: ca.crt, tls.crt, tls.key, base64.
*/}}
{{- define "nimbus.webhookPKI" -}}
{{- if not (hasKey .Values "_webhookPKI") -}}
{{- $name := printf "%s-webhook" (include "nimbus.fullname" .) -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $name -}}
{{- $pki := dict -}}
{{- if and $existing (index ($existing.data | default dict) "ca.crt") -}}
{{- $pki = dict "ca.crt" (index $existing.data "ca.crt") "tls.crt" (index $existing.data "tls.crt") "tls.key" (index $existing.data "tls.key") -}}
{{- else -}}
{{- $host := printf "%s.%s.svc" $name .Release.Namespace -}}
{{- $ca := genCA (printf "%s-ca" $name) 3650 -}}
{{- $cert := genSignedCert $host nil (list $host (printf "%s.%s" $name .Release.Namespace) $name) 3650 $ca -}}
{{- $pki = dict "ca.crt" ($ca.Cert | b64enc) "tls.crt" ($cert.Cert | b64enc) "tls.key" ($cert.Key | b64enc) -}}
{{- end -}}
{{- $_ := set .Values "_webhookPKI" $pki -}}
{{- end -}}
{{- toYaml (get .Values "_webhookPKI") -}}
{{- end -}}

{{/* A webhook's caBundle: injected by cert-manager, or the generated CA. */}}
{{- define "nimbus.webhookCA" -}}
{{- if not .Values.webhook.certManager.enabled -}}
caBundle: {{ index (include "nimbus.webhookPKI" . | fromYaml) "ca.crt" }}
{{- end -}}
{{- end -}}

{{/* kube-scheduler's tag: the value, or the cluster's own version without a vendor suffix. */}}
{{- define "nimbus.schedulerTag" -}}
{{- if .Values.placement.schedulerImage.tag -}}
{{- .Values.placement.schedulerImage.tag -}}
{{- else -}}
{{- regexFind "^v?[0-9]+\\.[0-9]+\\.[0-9]+" .Capabilities.KubeVersion.Version | trimPrefix "v" | printf "v%s" -}}
{{- end -}}
{{- end -}}
