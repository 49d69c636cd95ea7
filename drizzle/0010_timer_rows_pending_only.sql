-- A timer's row lives only while its timer is pending: firing deletes it (timers/entity-timers.ts)
-- instead of marking it fired, which wrote a new row version and index entries on every fire for
-- nobody to read (the fire is recorded where it is handled). Rows fired before this are dropped.
DELETE FROM "entity_timers" WHERE "status" = 'fired';--> statement-breakpoint
DROP INDEX "entity_timers_pending";--> statement-breakpoint
DROP INDEX "entity_timers_fired";--> statement-breakpoint
ALTER TABLE "entity_timers" DROP COLUMN "status";--> statement-breakpoint
ALTER TABLE "entity_timers" DROP COLUMN "fired_at";