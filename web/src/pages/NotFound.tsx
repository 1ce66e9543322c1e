import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { Empty } from "../components/common";

export default function NotFound() {
  const { t } = useTranslation();
  return (
    <Empty text={t("notFound")}>
      <Link to="/overview">{t("nav.overview")}</Link>
    </Empty>
  );
}
