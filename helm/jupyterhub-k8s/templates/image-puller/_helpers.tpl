{{/* Names and pod template of the image pre-puller (prePuller). */}}

{{- define "jhk8s.hookImagePullerName" -}}{{ include "jhk8s.fullname" . }}-hook-image-puller{{- end -}}
{{- define "jhk8s.hookImageAwaiterName" -}}{{ include "jhk8s.fullname" . }}-hook-image-awaiter{{- end -}}
{{- define "jhk8s.continuousImagePullerName" -}}{{ include "jhk8s.fullname" . }}-continuous-image-puller{{- end -}}
{{- define "jhk8s.imagePullerPriorityName" -}}{{ include "jhk8s.fullname" . }}-image-puller-priority{{- end -}}

{{/* The images to pull, by where their labs run, as JSON {"cpu": [...], "gpu": [...]}: the
     images of GPU profiles (gpus, or a GPU resource in kubespawner_override) go to GPU nodes,
     all others to the nodes of CPU labs; an image both kinds use goes to both. */}}
{{- define "jhk8s.prePullImages" -}}
{{- $singleuser := .Values.singleuser -}}
{{- $prePuller := .Values.prePuller -}}
{{- $gpuResources := list $singleuser.gpu.resourceName -}}
{{- range $_, $type := ($singleuser.gpu.types | default dict) }}
{{- $gpuResources = append $gpuResources $type.resourceName }}
{{- end }}
{{- $default := include "jhk8s.image" $singleuser.image -}}
{{- $pulls := dict "cpu" list "gpu" list -}}
{{- if $prePuller.pullProfileListImages }}
{{- range $profile := $singleuser.profileList }}
{{- $images := list }}
{{- if .image }}
{{- $images = append $images (include "jhk8s.image" (index $singleuser.images .image)) }}
{{- else }}
{{- $images = append $images (dig "kubespawner_override" "image" $default $profile) }}
{{- end }}
{{- range $_, $option := .profile_options }}
{{- range $_, $choice := $option.choices }}
{{- with dig "kubespawner_override" "image" "" $choice }}
{{- $images = append $images . }}
{{- end }}
{{- end }}
{{- end }}
{{- $where := "cpu" }}
{{- if gt (int (.gpus | default 0)) 0 }}
{{- $where = "gpu" }}
{{- end }}
{{- range $gpuResources }}
{{- if hasKey (dig "kubespawner_override" "extra_resource_limits" dict $profile) . }}
{{- $where = "gpu" }}
{{- end }}
{{- end }}
{{- $_ := set $pulls $where (concat (get $pulls $where) $images) }}
{{- end }}
{{- else }}
{{- $_ := set $pulls "cpu" (list $default) }}
{{- end }}
{{- range $_, $image := $prePuller.extraImages }}
{{- $_ := set $pulls "cpu" (append $pulls.cpu (include "jhk8s.image" $image)) }}
{{- end }}
{{- dict "cpu" ($pulls.cpu | uniq) "gpu" ($pulls.gpu | uniq) | toJson -}}
{{- end -}}

{{/* Where the pullers of one kind of lab run: the labs' own node selector and tolerations.
     Call with (dict "root" $ "where" "cpu"|"gpu"). */}}
{{- define "jhk8s.prePullPlacement" -}}
{{- $singleuser := .root.Values.singleuser -}}
{{- $nodeSelector := $singleuser.nodeSelector | default dict -}}
{{- $tolerations := $singleuser.extraTolerations | default list -}}
{{- if eq .where "gpu" }}
{{- $nodeSelector = merge (dict) $singleuser.gpu.nodeSelector $nodeSelector }}
{{- $tolerations = concat $tolerations $singleuser.gpu.tolerations }}
{{- end }}
{{- with $nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A puller DaemonSet: one init container per image, each exiting at once (its image is then
     on the node), then pause, which keeps the pod, and so its images, in use: the kubelet's
     image garbage collection removes only images no container uses. Call with (dict "root" $
     "name" NAME "component" COMPONENT "where" "cpu"|"gpu" "images" LIST). */}}
{{- define "jhk8s.imagePullerDaemonSet" -}}
{{- $prePuller := .root.Values.prePuller -}}
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .name }}
  labels:
    {{- include "jhk8s.labels" (dict "root" .root "component" .component) | nindent 4 }}
    jupyterhub-k8s/pulls-for: {{ .where }}-labs
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "jhk8s.selectorLabels" (dict "root" .root "component" .component) | nindent 6 }}
      jupyterhub-k8s/pulls-for: {{ .where }}-labs
  updateStrategy:
    type: RollingUpdate
    rollingUpdate:
      # Every node pulls the new images at once.
      maxUnavailable: 100%
  template:
    metadata:
      labels:
        {{- include "jhk8s.labels" (dict "root" .root "component" .component) | nindent 8 }}
        jupyterhub-k8s/pulls-for: {{ .where }}-labs
    spec:
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 0
      {{- /* Not the hook's pullers: a pre-install hook runs before the release's PriorityClasses
           exist, and the API refuses a pod that names a missing class, so the DaemonSet would
           never get a pod and the awaiter would wait until Helm's timeout. */}}
      {{- if and .root.Values.scheduling.podPriority.enabled (ne .component "hook-image-puller") }}
      priorityClassName: {{ include "jhk8s.imagePullerPriorityName" .root }}
      {{- end }}
      {{- with .root.Values.singleuser.imagePullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      {{- include "jhk8s.prePullPlacement" . | nindent 6 }}
      initContainers:
        {{- range $index, $image := .images }}
        - name: pull-{{ $index }}
          image: {{ $image | quote }}
          imagePullPolicy: IfNotPresent
          command: ["/bin/sh", "-c", "exit 0"]
          {{- with $prePuller.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $prePuller.containerSecurityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
        {{- end }}
      containers:
        - name: pause
          image: {{ include "jhk8s.image" $prePuller.pause.image | quote }}
          imagePullPolicy: IfNotPresent
          {{- with $prePuller.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $prePuller.containerSecurityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
{{- end -}}
