{{- define "controller.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tpipe.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- /* The names the controller acts on come from values (one place), not from `config`. */ -}}
{{- define "controller.names" -}}
{{- range $k := list "TPIPE_CONTROLLER_STATEFULSET" "TPIPE_CONTROLLER_CONFIGMAP" "TPIPE_CONTROLLER_LEASE_NAME" "TPIPE_NAMESPACE" }}
{{- if hasKey (default dict $.Values.config) $k }}{{ fail (printf "config.%s is set from mqreader.* / leaseName / the pod namespace; set those instead" $k) }}{{ end }}
{{- end }}
{{- end -}}
