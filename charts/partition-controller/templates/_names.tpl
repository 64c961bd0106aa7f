{{- /* The mqreader StatefulSet and its assignment ConfigMap, named as the mqreader chart names them. */ -}}
{{- define "controller.statefulSet" -}}
{{- .Values.mqreader.statefulSet | default (include "tpipe.nameOf" (dict "ctx" . "chart" "mqreader")) -}}
{{- end -}}
{{- define "controller.configMap" -}}
{{- .Values.mqreader.configMap | default (printf "%s-partitions" (include "tpipe.nameOf" (dict "ctx" . "chart" "mqreader")) | trunc 63 | trimSuffix "-") -}}
{{- end -}}
