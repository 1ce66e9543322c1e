-- The user of alerts stored before `alerts.user_name` existed, from their
-- stored event's user role fields (as `taishi_event::roles::USER` orders
-- them; Windows' `-` placeholder is no user), best effort.
UPDATE alerts SET user_name = coalesce(
  nullif(nullif(json_extract(body, '$.event."user.name"'), ''), '-'),
  nullif(nullif(json_extract(body, '$.event.TargetUserName'), ''), '-'),
  nullif(nullif(json_extract(body, '$.event.SubjectUserName'), ''), '-'),
  nullif(nullif(json_extract(body, '$.event.User'), ''), '-'))
  WHERE json_valid(body);
