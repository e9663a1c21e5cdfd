-- Argo CD health check for flink.apache.org/FlinkSessionJob, for Flinklet and for the Apache
-- Flink Kubernetes Operator alike. Install it in argocd-cm as
--   resource.customizations.health.flink.apache.org_FlinkSessionJob: |
--     <this file>
-- Healthy: the job runs and is stable, finished, or is suspended on purpose.
-- Progressing: not observed yet, submitting, upgrading, suspending, deleting.
-- Degraded: a failed job, a spec error, a stalled reconcile, a rollback.
local hs = {}

local function condition(status, type)
  if status.conditions == nil then return nil end
  for _, c in ipairs(status.conditions) do
    if c.type == type then return c end
  end
  return nil
end

local function result(state, message)
  hs.status = state
  hs.message = message
  return hs
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  return result("Progressing", "Deleting")
end
local status = obj.status
if status == nil then
  return result("Progressing", "Waiting for the operator to reconcile")
end
if status.lifecycleState == "DELETING" then
  return result("Progressing", "Deleting")
end
local generation = obj.metadata ~= nil and obj.metadata.generation or nil
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  return result("Progressing", "Waiting for the operator to observe generation " .. tostring(generation))
end

local jobState = (status.jobStatus or {}).state
local lifecycle = status.lifecycleState
local desiredState = obj.spec ~= nil and obj.spec.job ~= nil and obj.spec.job.state or nil
local stalled = condition(status, "Stalled")
local reconciling = condition(status, "Reconciling")
local ready = condition(status, "Ready")

if stalled ~= nil and stalled.status == "True" then
  return result("Degraded", (stalled.reason or "Stalled") .. ": " .. (stalled.message or ""))
end
if jobState == "FAILED" then
  return result("Degraded", "Job failed" .. (status.error ~= nil and (": " .. status.error) or ""))
end
if lifecycle == "FAILED" or lifecycle == "ROLLED_BACK" then
  return result("Degraded", status.error or ("Lifecycle state " .. lifecycle))
end
if status.error ~= nil and status.error ~= "" and lifecycle ~= "STABLE" then
  return result("Degraded", status.error)
end

if desiredState == "suspended" then
  if lifecycle == "SUSPENDED" or jobState == "SUSPENDED" or jobState == "FINISHED" or jobState == "CANCELED" then
    return result("Healthy", "Suspended")
  end
  return result("Progressing", "Suspending")
end

if reconciling ~= nil and reconciling.status == "True" then
  return result("Progressing", (reconciling.reason or "Reconciling") .. ": " .. (reconciling.message or ""))
end
if lifecycle == "UPGRADING" or lifecycle == "ROLLING_BACK" or lifecycle == "CREATED" then
  return result("Progressing", "Lifecycle state " .. lifecycle)
end

if ready ~= nil then
  if ready.status == "True" then
    return result("Healthy", ready.message or "Ready")
  end
  return result("Progressing", ready.message or "Not ready")
end
if jobState == "RUNNING" or jobState == "FINISHED" then
  return result("Healthy", "Job " .. jobState)
end
return result("Progressing", "Waiting for the job to run (" .. tostring(jobState) .. ")")
