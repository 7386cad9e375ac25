ALTER TABLE `agents` ADD `memory_free_bytes` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `agents` ADD `memory_total_bytes` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `agents` ADD `accelerator` text DEFAULT 'cpu' NOT NULL;--> statement-breakpoint
ALTER TABLE `agents` ADD `latitude` real;--> statement-breakpoint
ALTER TABLE `agents` ADD `longitude` real;