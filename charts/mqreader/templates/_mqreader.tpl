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

{{- /* The live assignment ConfigMap: partitions.configMap, else <fullname>-partitions (the partition-controller
derives the same name from global.names.mqreader). */ -}}
{{- define "mqreader.partitionsConfigMap" -}}
{{- .Values.partitions.configMap | default (printf "%s-partitions" (include "tpipe.fullname" .)) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
