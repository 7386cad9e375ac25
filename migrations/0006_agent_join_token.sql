ALTER TABLE `agents` ADD `join_token_id` text;--> statement-breakpoint
ALTER TABLE `join_tokens` ADD `max_agents` integer;