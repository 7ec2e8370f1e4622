"""A few documents and questions with one right answer each (for the end-to-end retrieval tests)."""

DOCUMENTS = [
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France.",
    "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar and oxygen.",
    "Python is a programming language that emphasises readable code and has a large standard library.",
    "Mount Everest, on the border of Nepal and China, is the highest mountain above sea level.",
    "The Great Barrier Reef off Queensland, Australia, is the largest coral reef system in the world.",
]

QUESTIONS = {
    "Which landmark made of iron stands in Paris?": 0,
    "How do plants make food from light?": 1,
    "What is the tallest peak on Earth?": 3,
    "Where can I dive among corals?": 4,
}
