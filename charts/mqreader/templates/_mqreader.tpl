{{- define "mqreader.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tpipe.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "mqreader.headless" -}}
{{- printf "%s-headless" (include "tpipe.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
