-- Argo CD health check for flink.apache.org/FlinkDeployment, for Flinklet and for the Apache
-- Flink Kubernetes Operator alike. Install it in argocd-cm as
--   resource.customizations.health.flink.apache.org_FlinkDeployment: |
--     <this file>
-- Healthy: the job runs and is stable, finished, or is suspended on purpose; a session cluster
-- is up. Progressing: not observed yet, deploying, upgrading, suspending, deleting.
-- Degraded: a failed job, a spec error, a crash loop, a JobManager in error, a rollback.
-- Flinklet's conditions follow kstatus (Ready always; Reconciling and Stalled only while true);
-- statuses without conditions (the Kubernetes operator's) are read from their fields.
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
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  -- The Kubernetes operator records observedGeneration only in newer versions: judge by the
  -- fields below when it has none and a spec was reconciled.
  if status.observedGeneration ~= nil or status.reconciliationStatus == nil then
    return result("Progressing", "Waiting for the operator to observe generation " .. tostring(generation))
  end
end

local job = status.jobStatus or {}
local jobState = job.state
local lifecycle = status.lifecycleState
local desiredState = obj.spec ~= nil and obj.spec.job ~= nil and obj.spec.job.state or nil
local stalled = condition(status, "Stalled")
local reconciling = condition(status, "Reconciling")
local ready = condition(status, "Ready")

-- Degraded: what will not get better without a person.
if stalled ~= nil and stalled.status == "True" then
  return result("Degraded", (stalled.reason or "Stalled") .. ": " .. (stalled.message or ""))
end
if jobState == "FAILED" then
  return result("Degraded", "Job failed" .. (status.error ~= nil and (": " .. status.error) or ""))
end
if status.jobManagerDeploymentStatus == "ERROR" then
  return result("Degraded", status.error or "JobManager deployment failed")
end
if lifecycle == "FAILED" or lifecycle == "ROLLED_BACK" then
  return result("Degraded", status.error or ("Lifecycle state " .. lifecycle))
end
if status.error ~= nil and status.error ~= "" and lifecycle ~= "STABLE" then
  return result("Degraded", status.error)
end

-- Suspended on purpose.
if desiredState == "suspended" then
  if lifecycle == "SUSPENDED" or jobState == "SUSPENDED" or jobState == "FINISHED" or jobState == "CANCELED" then
    return result("Healthy", "Suspended")
  end
  return result("Progressing", "Suspending")
end

-- Progressing: on its way.
if reconciling ~= nil and reconciling.status == "True" then
  return result("Progressing", (reconciling.reason or "Reconciling") .. ": " .. (reconciling.message or ""))
end
if lifecycle == "UPGRADING" or lifecycle == "ROLLING_BACK" or lifecycle == "CREATED" then
  return result("Progressing", "Lifecycle state " .. lifecycle)
end

-- Healthy: running and stable (or finished); a session cluster up.
if ready ~= nil then
  if ready.status == "True" then
    return result("Healthy", ready.message or "Ready")
  end
  return result("Progressing", ready.message or "Not ready")
end
local hasJob = obj.spec ~= nil and obj.spec.job ~= nil
if status.jobManagerDeploymentStatus == "READY" and (lifecycle == "STABLE" or lifecycle == "DEPLOYED") then
  if not hasJob or jobState == "RUNNING" or jobState == "FINISHED" then
    return result("Healthy", hasJob and ("Job " .. jobState) or "Session cluster ready")
  end
end
return result("Progressing", "Waiting for the job to run (" .. tostring(jobState) .. ")")
