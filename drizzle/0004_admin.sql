ALTER TABLE "workflow_executions" DROP CONSTRAINT "workflow_executions_status";--> statement-breakpoint
ALTER TABLE "workflow_journal" ADD COLUMN "kind" text DEFAULT 'step' NOT NULL;--> statement-breakpoint
ALTER TABLE "workflow_journal" ADD COLUMN "attempt" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
CREATE INDEX "workflow_executions_started" ON "workflow_executions" USING btree ("started_at" DESC NULLS LAST,"entity_type","entity_id","exec_id");--> statement-breakpoint
ALTER TABLE "workflow_executions" ADD CONSTRAINT "workflow_executions_status" CHECK ("workflow_executions"."status" in ('running', 'completed', 'failed', 'cancelled'));