-- Users: the per-user template variables (`{{user.variables.*}}`), never part of a user answer.
alter table users add column variables jsonb;
