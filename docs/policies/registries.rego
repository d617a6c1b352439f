# An example custom policy for `kestrel config --policy docs/policies`: images must come from an approved
# registry, and every workload must say who owns it. Findings have the same shape as the built-in checks.
package kestrel.custom.registries

approved := ["registry.example.com/", "gcr.io/distroless/"]

containers contains [path, c] if {
	input.kind == "Pod"
	some i, c in input.spec.containers
	path := sprintf("spec.containers[%d]", [i])
}

containers contains [path, c] if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
	some i, c in input.spec.template.spec.containers
	path := sprintf("spec.template.spec.containers[%d]", [i])
}

deny contains {
	"id": "custom:approved-registry",
	"title": "Image from an unapproved registry",
	"severity": "high",
	"message": sprintf("container %s runs %s", [c.name, c.image]),
	"fix": "pull images from registry.example.com or gcr.io/distroless only",
	"field": sprintf("%s.image", [path]),
	"controls": ["nist-800-190:4.2.1"],
} if {
	some [path, c] in containers
	not startswith_any(c.image, approved)
}

deny contains sprintf("%s %s has no owner label", [input.kind, input.metadata.name]) if {
	count(containers) > 0
	not input.metadata.labels.owner
}

startswith_any(s, prefixes) if {
	some p in prefixes
	startswith(s, p)
}
