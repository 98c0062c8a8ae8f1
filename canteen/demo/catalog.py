"""The raw material of the demo company: names, departments, groups and topic texts.

Plain data only; `canteen/demo/data.py` combines it with a seeded generator.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Ana",
    "Ben",
    "Cara",
    "David",
    "Elif",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Keiko",
    "Liam",
    "Maya",
    "Nikolai",
    "Olivia",
    "Pedro",
    "Quinn",
    "Rosa",
    "Samir",
    "Tessa",
    "Umar",
    "Vera",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Amara",
    "Bruno",
    "Chloe",
    "Diego",
    "Emma",
    "Felix",
    "Hana",
    "Ivan",
    "Julia",
    "Kofi",
    "Lena",
    "Marco",
    "Nora",
    "Oscar",
    "Priya",
    "Rafael",
    "Sofia",
    "Tomas",
    "Uma",
    "Viktor",
    "Wanda",
    "Yara",
    "Aisha",
    "Lucas",
    "Mei",
    "Noah",
    "Leila",
    "Mateo",
    "Anja",
    "Kenji",
    "Sara",
    "Theo",
    "Ingrid",
    "Ravi",
)
LAST_NAMES = (
    "Silva",
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Yilmaz",
    "Haddad",
    "Kim",
    "Bauer",
    "Costa",
    "Novak",
    "Tanaka",
    "Murphy",
    "Patel",
    "Ivanov",
    "Brown",
    "Alves",
    "Fischer",
    "Garcia",
    "Rahman",
    "de Vries",
    "Khan",
    "Petrova",
    "Zhang",
    "Lopez",
    "Demir",
    "Martin",
    "Mensah",
    "Rossi",
    "Dubois",
    "Herrera",
    "Larsen",
    "Weber",
    "Sato",
    "Kowalski",
    "Schmidt",
    "Osei",
    "Jensen",
    "Ricci",
    "Nilsson",
    "Castillo",
    "Sharma",
    "Ferreira",
    "Nakamura",
    "Andersen",
    "Popescu",
    "Walsh",
    "Ahmed",
    "Suzuki",
    "Nguyen",
    "Berg",
)
LOCATIONS = ("Lisbon", "Berlin", "Amsterdam", "London", "Remote")
TIME_ZONES = {
    "Lisbon": "Europe/Lisbon",
    "Berlin": "Europe/Berlin",
    "Amsterdam": "Europe/Amsterdam",
    "London": "Europe/London",
    "Remote": "UTC",
}

# department -> (share of headcount, head's title, staff titles, topics its people know)
DEPARTMENTS: dict[str, tuple[int, str, tuple[str, ...], tuple[str, ...]]] = {
    "Platform Engineering": (
        9,
        "Head of Platform",
        ("Site Reliability Engineer", "Platform Engineer", "DevOps Engineer"),
        ("kubernetes", "observability", "ci-cd", "security"),
    ),
    "Product Engineering": (
        12,
        "VP Engineering",
        ("Backend Engineer", "Frontend Engineer", "Staff Engineer", "QA Engineer"),
        ("python", "react", "postgres", "ci-cd", "kubernetes"),
    ),
    "Data": (
        5,
        "Head of Data",
        ("Data Engineer", "Analytics Engineer", "Data Scientist"),
        ("postgres", "python", "dashboards"),
    ),
    "Product & Design": (
        6,
        "Chief Product Officer",
        ("Product Manager", "Product Designer", "UX Researcher"),
        ("design-system", "customer-feedback", "okr"),
    ),
    "Sales": (
        7,
        "VP Sales",
        ("Account Executive", "Sales Engineer", "Sales Development Rep"),
        ("sales-enablement", "customer-feedback", "travel"),
    ),
    "Customer Success": (
        6,
        "Head of Customer Success",
        ("Customer Success Manager", "Support Engineer"),
        ("customer-feedback", "onboarding", "dashboards"),
    ),
    "Finance": (
        4,
        "CFO",
        ("Financial Controller", "Accountant", "FP&A Analyst"),
        ("expenses", "travel", "okr"),
    ),
    "People": (
        5,
        "Chief People Officer",
        ("People Partner", "Recruiter", "Learning & Development Lead"),
        ("onboarding", "benefits", "expenses"),
    ),
    "IT & Security": (
        4,
        "CISO",
        ("IT Support Specialist", "Security Engineer"),
        ("security", "onboarding", "kubernetes"),
    ),
}
CEO_TITLE = "Chief Executive Officer"

# slug -> (name, visibility, join policy, topic, departments that join it)
GROUPS: dict[str, tuple[str, str, str, str, tuple[str, ...]]] = {
    "kubernetes-guild": (
        "Kubernetes Guild",
        "public",
        "open",
        "kubernetes",
        ("Platform Engineering", "Product Engineering", "IT & Security"),
    ),
    "new-joiners": (
        "New Joiners",
        "public",
        "open",
        "onboarding",
        ("People", "Customer Success", "Sales"),
    ),
    "expenses-and-travel": (
        "Expenses & Travel",
        "public",
        "open",
        "expenses",
        ("Finance", "Sales", "People"),
    ),
    "frontend-chapter": (
        "Frontend Chapter",
        "public",
        "open",
        "react",
        ("Product Engineering", "Product & Design"),
    ),
    "data-and-analytics": (
        "Data & Analytics",
        "public",
        "open",
        "dashboards",
        ("Data", "Customer Success", "Finance"),
    ),
    "customer-voices": (
        "Customer Voices",
        "public",
        "request",
        "customer-feedback",
        ("Customer Success", "Sales", "Product & Design"),
    ),
    "leadership-team": ("Leadership Team", "private", "invite", "okr", ()),  # heads only
    "security-incident-response": (
        "Security Incident Response",
        "private",
        "invite",
        "security",
        ("IT & Security", "Platform Engineering"),
    ),
}

# topic -> question titles (each becomes a question, an article or a note angle)
QUESTIONS: dict[str, tuple[str, ...]] = {
    "kubernetes": (
        "How do I get kubectl access to the staging cluster?",
        "Why is my pod stuck in CrashLoopBackOff after the base image upgrade?",
        "What is our convention for resource requests and limits?",
        "How do we rotate secrets mounted into deployments?",
        "Can someone explain how the ingress controller picks certificates?",
        "Is there a template for a new service's Helm chart?",
        "How do I debug a pod that gets OOMKilled only in production?",
        "Which node pool should batch jobs run on?",
    ),
    "observability": (
        "Where do I find the latency dashboards for the API gateway?",
        "How do I add a custom metric to Prometheus from a Python service?",
        "What is the alert routing for pages outside office hours?",
        "How long do we keep traces, and can I extend it for an investigation?",
    ),
    "ci-cd": (
        "Why does the pipeline rebuild every image when I change one service?",
        "How do I promote a release from staging to production?",
        "Can we cache dependencies between CI runs?",
        "Who approves a hotfix deployment on a Friday?",
    ),
    "security": (
        "How do I report a phishing email?",
        "What is the process to request production database access?",
        "Do we have a policy for storing API keys in CI variables?",
        "How often do we run penetration tests, and who gets the report?",
    ),
    "python": (
        "Which Python version should new services target?",
        "How do we structure settings with pydantic in our services?",
        "Is there a shared logging setup I should reuse?",
        "What is the recommended way to run async database migrations?",
    ),
    "react": (
        "Which component library do we use for internal tools?",
        "How do we handle feature flags in the web app?",
        "What is the recommended state management approach now?",
        "How do I run the design system's visual regression tests locally?",
    ),
    "postgres": (
        "How do I get a read-only replica for analytics queries?",
        "What is our policy for long-running migrations on big tables?",
        "Why is this query slow only on the production database?",
        "How do we back up and restore a single schema?",
    ),
    "dashboards": (
        "Where is the single source of truth for monthly active users?",
        "How do I share a dashboard with a customer safely?",
        "Can someone review my churn dashboard before the board meeting?",
    ),
    "design-system": (
        "Where do I propose a new component for the design system?",
        "What are the accessibility requirements for colour contrast?",
        "How do we version design tokens?",
    ),
    "customer-feedback": (
        "Where should I log feature requests from customer calls?",
        "How do we close the loop with customers after a fix ships?",
        "Is there a summary of this quarter's top customer pain points?",
    ),
    "okr": (
        "When are next quarter's OKRs due?",
        "How do we score key results at the end of a quarter?",
        "Can a team own a key result shared with another team?",
    ),
    "sales-enablement": (
        "Where is the latest pitch deck?",
        "Who can join a technical deep-dive with a prospect next week?",
        "How do I request a custom demo environment?",
    ),
    "onboarding": (
        "What should I do in my first week?",
        "How do I get access to the tools my team uses?",
        "Who is my onboarding buddy and how is one assigned?",
        "Where do I find the org chart?",
        "How do I set up my laptop for development?",
    ),
    "expenses": (
        "How do I submit an expense for a client dinner?",
        "What is the per-diem for a day trip?",
        "Can I expense a home-office chair?",
        "How long does expense reimbursement take?",
        "Which receipts do I need for a train ticket bought online?",
    ),
    "travel": (
        "How do I book a flight for a customer visit?",
        "Do we have a preferred hotel in Berlin?",
        "What travel insurance covers business trips?",
    ),
    "benefits": (
        "How do I enrol in the pension plan?",
        "Does our health insurance cover physiotherapy?",
        "How many learning days do we get per year?",
        "How does parental leave work with the new policy?",
    ),
}

ANSWER_OPENERS = (
    "Good question, this trips up a lot of people.",
    "We changed this last quarter, so older docs are out of date.",
    "Short answer: yes, but there is a catch.",
    "I ran into exactly this last month.",
    "The official process lives in the handbook, but in practice:",
    "Here is what worked for our team:",
)
ANSWER_STEPS = (
    "open a ticket in the service desk with the '{topic}' category",
    "ask in the #{topic} channel and tag the on-call person",
    "follow the checklist in the {topic} runbook, section 3",
    "use the self-service form; approval usually takes a day",
    "check the pinned post in the group first, it has the current links",
    "pair with someone from {dept} for thirty minutes, it saves a lot of back and forth",
    "make sure your manager is in copy, they need to approve it",
    "run the script in the platform repository, it does the boring parts for you",
    "keep the receipts and reference numbers, you will be asked for them",
)
ANSWER_CLOSERS = (
    "Ping me if you get stuck.",
    "Happy to walk you through it.",
    "If that does not work, it is probably a permissions issue.",
    "We should really add this to the onboarding docs.",
    "It took me two tries, so do not worry if the first one fails.",
)
COMMENTS = (
    "Thanks, this is really helpful!",
    "Bookmarking this.",
    "Could we add this to the handbook?",
    "We hit the same thing in our team last week.",
    "Great write-up, thanks for sharing.",
    "Does this also apply to contractors?",
    "+1, would love a follow-up on this.",
    "This saved me an afternoon.",
    "Is there a recording of the session?",
    "Adding a link to this in our team wiki.",
)
RESOURCES: dict[str, tuple[tuple[str, str, str], ...]] = {
    # topic -> (title, url, resource type)
    "kubernetes": (
        (
            "Kubernetes troubleshooting flowchart",
            "https://learnk8s.io/troubleshooting-deployments",
            "how-to",
        ),
        (
            "Production best practices checklist",
            "https://kubernetes.io/docs/setup/best-practices/",
            "document",
        ),
    ),
    "observability": (
        (
            "Google SRE book: monitoring distributed systems",
            "https://sre.google/sre-book/monitoring-distributed-systems/",
            "article",
        ),
    ),
    "ci-cd": (("Trunk-based development guide", "https://trunkbaseddevelopment.com/", "article"),),
    "security": (("OWASP Top Ten", "https://owasp.org/www-project-top-ten/", "document"),),
    "python": (
        ("Python packaging user guide", "https://packaging.python.org/", "document"),
        ("asyncio developer guide", "https://docs.python.org/3/library/asyncio-dev.html", "how-to"),
    ),
    "react": (
        ("React docs: thinking in React", "https://react.dev/learn/thinking-in-react", "how-to"),
    ),
    "postgres": (("Use the index, Luke", "https://use-the-index-luke.com/", "article"),),
    "dashboards": (
        ("Dashboard design checklist", "https://www.storytellingwithdata.com/", "slides"),
    ),
    "design-system": (
        ("WCAG 2.2 quick reference", "https://www.w3.org/WAI/WCAG22/quickref/", "document"),
    ),
    "customer-feedback": (("Jobs-to-be-done interview template", "https://jtbd.info/", "tool"),),
    "okr": (
        (
            "Writing good key results",
            "https://www.whatmatters.com/faqs/okr-meaning-definition-example",
            "article",
        ),
    ),
    "sales-enablement": (
        ("Discovery call script", "https://www.gong.io/blog/discovery-call/", "document"),
    ),
    "onboarding": (
        ("First-week checklist", "https://handbook.example.com/onboarding/first-week", "how-to"),
        ("Laptop setup video", "https://handbook.example.com/onboarding/laptop", "video"),
    ),
    "expenses": (
        (
            "How to file an expense claim (2 minutes)",
            "https://handbook.example.com/finance/expenses",
            "how-to",
        ),
        ("Expense policy 2026", "https://handbook.example.com/finance/expense-policy", "document"),
    ),
    "travel": (
        ("Travel booking tool guide", "https://handbook.example.com/travel/booking", "how-to"),
    ),
    "benefits": (("Benefits overview", "https://handbook.example.com/people/benefits", "slides"),),
}
ARTICLE_ANGLES = (
    "What we learned from {title_lower}",
    "A practical guide: {title_lower}",
    "{topic_title} in our company, explained",
    "Five tips about {topic_title} from the {dept} team",
)
NOTES = (
    "Reminder: the {topic} office hours are on Thursday at 15:00.",
    "Just shipped a small improvement to our {topic} docs, feedback welcome.",
    "Anyone up for a lunch-and-learn about {topic} next week?",
    "Our team wrote down how we handle {topic}; link in the group.",
    "Kudos to everyone who helped with the {topic} clean-up this sprint!",
    "New to {topic}? Start with the pinned resources, they are excellent.",
)
