{{- define "pipeline.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: migrations
app.kubernetes.io/part-of: tpipe
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "pipeline.image" -}}
{{- $tag := default .Chart.AppVersion .Values.global.image.tag | toString -}}
{{- if eq $tag "latest" -}}
{{- fail "global.image.tag \"latest\" is not allowed (it forces a pull and is not reproducible): pin a version" -}}
{{- end -}}
{{- printf "%s:%s" .Values.global.image.repository $tag -}}
{{- end -}}

{{- define "pipeline.migrateJobName" -}}
{{- printf "%s-migrate" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* The umbrella's own objects (policies, token Secret): pipeline.labels with their component. */ -}}
{{- define "pipeline.componentLabels" -}}
{{- $ := .ctx -}}
app.kubernetes.io/name: {{ $.Chart.Name }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: tpipe
app.kubernetes.io/managed-by: {{ $.Release.Service }}
app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" $.Chart.Name $.Chart.Version | replace "+" "_" }}
{{- end -}}
