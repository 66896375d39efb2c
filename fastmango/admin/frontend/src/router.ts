// History-mode routes under /admin/; the server answers index.html for any of them.
import { createRouter, createWebHistory } from "vue-router";
import { session } from "./api";
import { loadSite, state } from "./store";
import DeleteView from "./views/DeleteView.vue";
import FormView from "./views/FormView.vue";
import HistoryView from "./views/HistoryView.vue";
import IndexView from "./views/IndexView.vue";
import ListView from "./views/ListView.vue";
import LoginView from "./views/LoginView.vue";
import NotFoundView from "./views/NotFoundView.vue";

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
    { path: "/:rest(.*)*", name: "not-found", component: NotFoundView },
  ],
});

router.beforeEach(async (to) => {
  if (to.meta.public) return true;
  if (!session.tokens) return { name: "login", query: { next: to.fullPath } };
  if (!state.site && !state.error) await loadSite();
  if (!session.tokens) return { name: "login", query: { next: to.fullPath } };
  return true;
});
