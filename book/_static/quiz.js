// Concept questions (the `quiz` directive of book/_ext/quiz.py): a click on a choice marks it right or
// wrong and shows why. Served from the site itself; without JavaScript every explanation stays visible.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("div.quiz").forEach(function (quiz) {
    quiz.classList.add("quiz-live");
    quiz.querySelectorAll("div.quiz-choice").forEach(function (choice) {
      choice.setAttribute("role", "button");
      choice.setAttribute("tabindex", "0");
      var answer = function () {
        choice.classList.add("quiz-chosen");
        choice.classList.add(choice.classList.contains("quiz-correct") ? "quiz-right" : "quiz-wrong");
        choice.setAttribute("aria-pressed", "true");
      };
      choice.addEventListener("click", answer);
      choice.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); answer(); }
      });
    });
  });
});
