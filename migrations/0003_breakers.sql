ALTER TABLE `agents` ADD `breaker_state` text DEFAULT 'closed' NOT NULL;--> statement-breakpoint
ALTER TABLE `agents` ADD `breaker_failures` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `agents` ADD `breaker_trips` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `agents` ADD `breaker_opened_at` integer;--> statement-breakpoint
ALTER TABLE `agents` ADD `breaker_open_until` integer;--> statement-breakpoint
ALTER TABLE `agents` ADD `breaker_changed_at` integer;--> statement-breakpoint
ALTER TABLE `agents` ADD `breaker_probes` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `agents` ADD `breaker_probe_at` integer;--> statement-breakpoint
ALTER TABLE `tickets` ADD `failed_at` integer;