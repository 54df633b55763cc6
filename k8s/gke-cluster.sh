#!/usr/bin/env bash
# GKE for ocs: a regional Standard cluster with Workload Identity, the Cloud Storage FUSE CSI
# driver and Gateway API, a CPU node pool and an L4 GPU node pool (GKE
# installs the NVIDIA driver: gpu-driver-version=latest). Read, adjust, then run step by step.
set -euo pipefail

PROJECT=${PROJECT:?set PROJECT to your GCP project id}
REGION=${REGION:-europe-west4}
ZONES=${ZONES:-europe-west4-a,europe-west4-b}   # zones that offer the accelerator
CLUSTER=${CLUSTER:-ocs}
GPU_TYPE=${GPU_TYPE:-nvidia-l4}
GPU_MACHINE=${GPU_MACHINE:-g2-standard-8}     # 1 x L4, 8 vCPU, 32 GiB
CPU_MACHINE=${CPU_MACHINE:-n2-standard-8}

gcloud config set project "$PROJECT"
gcloud services enable container.googleapis.com artifactregistry.googleapis.com \
  storage.googleapis.com sqladmin.googleapis.com redis.googleapis.com

gcloud container clusters create "$CLUSTER" \
  --region "$REGION" --node-locations "$ZONES" \
  --release-channel regular \
  --workload-pool "$PROJECT.svc.id.goog" \
  --addons GcsFuseCsiDriver \
  --gateway-api standard \
  --enable-shielded-nodes \
  --machine-type e2-standard-4 --num-nodes 1

# CPU pool for the Ray head, CPU workers, Redis, the email worker and the CronJobs.
gcloud container node-pools create cpu \
  --cluster "$CLUSTER" --region "$REGION" \
  --machine-type "$CPU_MACHINE" \
  --enable-autoscaling --min-nodes 1 --max-nodes 6 \
  --workload-metadata GKE_METADATA

# GPU pool for the EmailGenerator (vLLM Mistral). GKE taints it nvidia.com/gpu=present:NoSchedule
# and labels it cloud.google.com/gke-accelerator=$GPU_TYPE; the chart's GPU group tolerates and
# selects exactly that. Scale to zero when no GPU worker pod asks for a node.
gcloud container node-pools create gpu-l4 \
  --cluster "$CLUSTER" --region "$REGION" --node-locations "$ZONES" \
  --machine-type "$GPU_MACHINE" \
  --accelerator "type=$GPU_TYPE,count=1,gpu-driver-version=latest" \
  --enable-autoscaling --min-nodes 0 --max-nodes 3 \
  --workload-metadata GKE_METADATA

gcloud container clusters get-credentials "$CLUSTER" --region "$REGION"
