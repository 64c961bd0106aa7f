{{- /* Which CSV file of the chart is shipped: the gzipped one when present. */ -}}
{{- define "streamer.csvFile" -}}
{{- if .Files.Get "files/telemetry.csv.gz" -}}files/telemetry.csv.gz{{- else if .Files.Get "files/telemetry.csv" -}}files/telemetry.csv{{- end -}}
{{- end -}}
