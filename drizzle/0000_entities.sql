CREATE TABLE "entity_replies" (
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"request_id" text NOT NULL,
	"reply" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "entity_replies_entity_type_entity_id_request_id_pk" PRIMARY KEY("entity_type","entity_id","request_id")
);
--> statement-breakpoint
CREATE TABLE "entity_state" (
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"state" text NOT NULL,
	"version" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "entity_state_entity_type_entity_id_pk" PRIMARY KEY("entity_type","entity_id")
);
--> statement-breakpoint
CREATE INDEX "entity_replies_created_at" ON "entity_replies" USING btree ("created_at");