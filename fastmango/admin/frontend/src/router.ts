// History-mode routes under /admin/; the server answers index.html for any of them.
import { createRouter, createWebHistory } from "vue-router";
import { session } from "./api";
import { probeMonitoring } from "./monitoring";
import { loadSite, state } from "./store";
import DeleteView from "./views/DeleteView.vue";
import FormView from "./views/FormView.vue";
import HistoryView from "./views/HistoryView.vue";
import IndexView from "./views/IndexView.vue";
import ListView from "./views/ListView.vue";
import LoginView from "./views/LoginView.vue";
import NotFoundView from "./views/NotFoundView.vue";

// The monitoring pages (and Chart.js) load on first use, so the rest of the admin stays small.
export const router = createRouter({
  history: createWebHistory("/admin/"),
  routes: [
    { path: "/login", name: "login", component: LoginView, meta: { public: true, title: "Log in" } },
    { path: "/", name: "index", component: IndexView, meta: { title: "Site administration" } },
    { path: "/models/:model", name: "list", component: ListView, props: true },
    { path: "/models/:model/add", name: "add", component: FormView, props: true },
    { path: "/models/:model/:pk", name: "edit", component: FormView, props: true },
    { path: "/models/:model/:pk/delete", name: "delete", component: DeleteView, props: true },
    { path: "/models/:model/:pk/history", name: "history", component: HistoryView, props: true },
    {
      path: "/dashboard",
      name: "dashboard",
      component: () => import("./views/DashboardView.vue"),
      meta: { monitoring: true },
    },
    { path: "/tasks", name: "tasks", component: () => import("./views/TasksView.vue"), meta: { monitoring: true } },
    { path: "/logs", name: "logs", component: () => import("./views/LogsView.vue"), meta: { monitoring: true } },
    { path: "/:rest(.*)*", name: "not-found", component: NotFoundView },
  ],
});

router.beforeEach(async (to) => {
  if (to.meta.public) return true;
  if (!session.tokens) return { name: "login", query: { next: to.fullPath } };
  if (!state.site && !state.error) await loadSite();
  if (!session.tokens) return { name: "login", query: { next: to.fullPath } };
  if (state.site) await probeMonitoring(); // whether to show the monitoring links (and pages)
  return true;
});
