CREATE TABLE "entity_timers" (
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"timer_id" text NOT NULL,
	"key_hash" bigint NOT NULL,
	"scheduled_at" timestamp with time zone NOT NULL,
	"fire_at" timestamp with time zone NOT NULL,
	"status" text NOT NULL,
	"fired_at" timestamp with time zone,
	CONSTRAINT "entity_timers_entity_type_entity_id_timer_id_pk" PRIMARY KEY("entity_type","entity_id","timer_id")
);
--> statement-breakpoint
CREATE INDEX "entity_timers_pending" ON "entity_timers" USING btree ("key_hash") WHERE "entity_timers"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "entity_timers_fired" ON "entity_timers" USING btree ("fired_at") WHERE "entity_timers"."status" = 'fired';