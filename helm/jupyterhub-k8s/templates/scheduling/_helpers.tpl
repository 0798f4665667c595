{{/* Names of the scheduling resources (scheduling). */}}

{{- define "jhk8s.labPriorityName" -}}{{ include "jhk8s.fullname" . }}-default-priority{{- end -}}
{{- define "jhk8s.userPlaceholderPriorityName" -}}{{ include "jhk8s.fullname" . }}-user-placeholder-priority{{- end -}}
{{- define "jhk8s.userPlaceholderName" -}}{{ include "jhk8s.fullname" . }}-user-placeholder{{- end -}}

{{/* A lab's guarantees as placeholder requests: singleuser.cpu.guarantee, and
     singleuser.memory.guarantee with KubeSpawner's K, M, G, T (powers of 1024) written as
     Kubernetes' Ki, Mi, Gi, Ti. */}}
{{- define "jhk8s.labRequests" -}}
{{- $requests := dict }}
{{- with .Values.singleuser.cpu.guarantee }}
{{- $_ := set $requests "cpu" (toString .) }}
{{- end }}
{{- with .Values.singleuser.memory.guarantee }}
{{- $_ := set $requests "memory" (regexReplaceAll "^([0-9.]+)([KMGT])$" (toString .) "${1}${2}i") }}
{{- end }}
{{- with $requests }}
{{- dict "requests" . | toYaml }}
{{- end }}
{{- end -}}
