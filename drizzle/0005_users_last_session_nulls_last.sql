DROP INDEX "users_last_session_idx";--> statement-breakpoint
CREATE INDEX "users_last_session_asc_idx" ON "users" USING btree (coalesce("last_session", 'infinity'::timestamptz),"id");--> statement-breakpoint
CREATE INDEX "users_last_session_desc_idx" ON "users" USING btree (coalesce("last_session", '-infinity'::timestamptz),"id");