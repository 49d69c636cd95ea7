DROP INDEX "entity_replies_created_at";--> statement-breakpoint
ALTER TABLE "entity_replies" ADD COLUMN "expires_at" timestamp with time zone DEFAULT now() + interval '24 hours' NOT NULL;--> statement-breakpoint
CREATE INDEX "entity_replies_expires_at" ON "entity_replies" USING btree ("expires_at");