-- The user of alerts stored before `alerts.user_name` existed, from their
-- stored event's user role fields (as `taishi_event::roles::USER` orders
-- them; Windows' `-` placeholder is no user), best effort.
UPDATE alerts SET user_name = coalesce(
  nullif(nullif(CAST(body AS jsonb) -> 'event' ->> 'user.name', ''), '-'),
  nullif(nullif(CAST(body AS jsonb) -> 'event' ->> 'TargetUserName', ''), '-'),
  nullif(nullif(CAST(body AS jsonb) -> 'event' ->> 'SubjectUserName', ''), '-'),
  nullif(nullif(CAST(body AS jsonb) -> 'event' ->> 'User', ''), '-'));
