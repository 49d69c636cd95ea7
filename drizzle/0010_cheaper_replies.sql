-- Replies to forwarded calls are kept in the state row (entity/forwarded-replies.ts), and the
-- expiry index becomes BRIN: replies are inserted in expiry order, and a btree entry per reply cost
-- each keyed call more than the prune it serves. The migrator runs in one transaction, holding each
-- lock to its end, so the order matters for runners still serving meanwhile: the BRIN build (one
-- scan of entity_replies, during which its inserts wait) comes first, and the state table's
-- exclusive lock for the new column last, for the shortest while.
CREATE INDEX "entity_replies_expiry_brin" ON "entity_replies" USING brin ("expires_at");--> statement-breakpoint
DROP INDEX "entity_replies_expires_at";--> statement-breakpoint
ALTER TABLE "entity_state" ADD COLUMN "forwarded_replies" text;
