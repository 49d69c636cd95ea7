CREATE TABLE "workflow_signals" (
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"exec_id" text NOT NULL,
	"name" text NOT NULL,
	"payload" text NOT NULL,
	"delivered_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "workflow_signals_entity_type_entity_id_exec_id_name_pk" PRIMARY KEY("entity_type","entity_id","exec_id","name")
);
--> statement-breakpoint
ALTER TABLE "workflow_executions" DROP CONSTRAINT "workflow_executions_status";--> statement-breakpoint
CREATE INDEX "workflow_executions_waiting" ON "workflow_executions" USING btree ("entity_type","entity_id") WHERE "workflow_executions"."status" in ('compensating', 'suspended');--> statement-breakpoint
ALTER TABLE "workflow_executions" ADD CONSTRAINT "workflow_executions_status" CHECK ("workflow_executions"."status" in ('running', 'completed', 'failed', 'cancelled', 'suspended', 'compensating', 'compensated', 'compensation_failed'));