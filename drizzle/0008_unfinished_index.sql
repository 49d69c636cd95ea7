-- What a runner must be driving, running or compensating, is one partial index: the periodic
-- sweep for executions nobody drives (workflow/sweep.ts) and the resume on acquiring shards read it.
DROP INDEX "workflow_executions_running";--> statement-breakpoint
DROP INDEX "workflow_executions_waiting";--> statement-breakpoint
CREATE INDEX "workflow_executions_running" ON "workflow_executions" USING btree ("entity_type","entity_id") WHERE "workflow_executions"."status" in ('running', 'compensating');--> statement-breakpoint
CREATE INDEX "workflow_executions_waiting" ON "workflow_executions" USING btree ("entity_type","entity_id") WHERE "workflow_executions"."status" = 'suspended';