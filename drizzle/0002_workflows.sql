CREATE TABLE "workflow_executions" (
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"exec_id" text NOT NULL,
	"workflow" text NOT NULL,
	"input" text NOT NULL,
	"status" text NOT NULL,
	"result" text,
	"error" text,
	"attempts" integer NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "workflow_executions_entity_type_entity_id_exec_id_pk" PRIMARY KEY("entity_type","entity_id","exec_id"),
	CONSTRAINT "workflow_executions_status" CHECK ("workflow_executions"."status" in ('running', 'completed', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "workflow_journal" (
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"exec_id" text NOT NULL,
	"name" text NOT NULL,
	"seq" integer NOT NULL,
	"result" text NOT NULL,
	"runs" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "workflow_journal_entity_type_entity_id_exec_id_name_pk" PRIMARY KEY("entity_type","entity_id","exec_id","name")
);
--> statement-breakpoint
ALTER TABLE "workflow_journal" ADD CONSTRAINT "workflow_journal_execution" FOREIGN KEY ("entity_type","entity_id","exec_id") REFERENCES "public"."workflow_executions"("entity_type","entity_id","exec_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "workflow_executions_running" ON "workflow_executions" USING btree ("entity_type","entity_id") WHERE "workflow_executions"."status" = 'running';