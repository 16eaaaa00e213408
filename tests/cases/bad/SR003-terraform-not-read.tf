# The machine type is a variable with no default and no value given: not guessed, reported.
# expect: SR003 line 7: node pool 'workers': not evaluated: machine_type; rules that need these skipped it
variable "machine_type" {
  type = string
}

resource "google_container_node_pool" "workers" {
  name           = "workers"
  cluster        = "ray"
  location       = "us-central1"
  node_locations = ["us-central1-a", "us-central1-b"]

  autoscaling {
    total_min_node_count = 0
    total_max_node_count = 10
    location_policy      = "ANY"
  }

  node_config {
    machine_type    = var.machine_type
    spot            = true
    service_account = "ray-nodes@my-project.iam.gserviceaccount.com"
    shielded_instance_config {
      enable_secure_boot = true
    }
    taint {
      key    = "dedicated"
      value  = "workers"
      effect = "NO_SCHEDULE"
    }
  }
}
