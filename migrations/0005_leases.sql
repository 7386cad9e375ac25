DROP INDEX `tickets_agent_idx`;--> statement-breakpoint
ALTER TABLE `tickets` ADD `claim_until` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `tickets` ADD `admitted_at` integer;--> statement-breakpoint
CREATE INDEX `tickets_agent_state_idx` ON `tickets` (`agent_id`,`state`);--> statement-breakpoint
ALTER TABLE `agents` DROP COLUMN `reserved_jobs`;