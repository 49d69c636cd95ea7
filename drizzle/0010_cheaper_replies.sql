-- Replies to forwarded calls are kept in the state row (entity/forwarded-replies.ts), and the
-- expiry index becomes BRIN: replies are inserted in expiry order, and a btree entry per reply
-- cost each keyed call more than the prune it serves.
DROP INDEX "entity_replies_expires_at";--> statement-breakpoint
ALTER TABLE "entity_state" ADD COLUMN "forwarded_replies" text;--> statement-breakpoint
CREATE INDEX "entity_replies_expires_at" ON "entity_replies" USING brin ("expires_at");